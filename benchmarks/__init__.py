"""The benchmark suite of BRIEF §5 (B1, B2, B4, B5, B6): ``make bench`` / ``python -m benchmarks``.

Each benchmark reports a ratio against a baseline measured in the same run, so a
noisy, shared machine changes the numbers but not the verdict. The server and
every measured client run in processes of their own (``benchmarks.processes``).
The report is ``docs/benchmarks.md``; see ``python -m benchmarks --help``.
"""
