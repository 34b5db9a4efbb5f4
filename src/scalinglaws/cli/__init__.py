"""Layer 6, the command line: parses arguments, calls the library, prints."""

from scalinglaws.cli.app import main

__all__ = ["main"]
