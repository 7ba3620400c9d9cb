"""One module per magic; each exposes ``run(magics, args)`` (a coroutine when it waits)."""
