"""IPython magics (see docs/magics.md)."""
