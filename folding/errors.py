"""User-facing errors.

Every error a user can fix (a bad input file, a missing database, a wrong option)
is raised as a :class:`FoldingError` whose message is one line that names the
input and says how to fix it. The command line prints that line and exits with a
non-zero status; it never prints a traceback for these.
"""

from __future__ import annotations


class FoldingError(Exception):
    """An error the user can fix. ``str(error)`` is the one-line message."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class InputError(FoldingError):
    """Bad user input: a file, a sequence, a feature or a parameter file."""

    exit_code = 2


class MissingResourceError(FoldingError):
    """A database, parameter file or external tool is not where it should be."""

    exit_code = 3


class ToolError(FoldingError):
    """An external program (jackhmmer, hhblits, kalign, ...) failed."""

    exit_code = 4
