"""The single source of the package version (tested equal to ``js/package.json``)."""

__version__ = "0.1.0"
