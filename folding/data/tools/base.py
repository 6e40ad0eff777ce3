"""The one interface every external program runs behind.

Three pieces, nothing more:

* :func:`find_binary` resolves a program name (or an explicit path) to an executable and
  raises :class:`~folding.errors.MissingResourceError` naming the Debian package when it
  is missing.
* :func:`run_tool` runs an argument list (never through a shell), captures its output and
  raises :class:`~folding.errors.ToolError` with one line (the program, its exit status,
  the last meaningful line of its error output, and the fix) when it fails or times out.
  It returns a frozen :class:`ToolRun` with the argv, exit status, output and wall time.
* :func:`tool_version` asks a program for its version (a short string for logs and
  provenance files), ``"unknown"`` when the program does not say.

In-process tools (pyhmmer) have no argv; they only share :class:`ToolError` and the rule
that wrappers never cache: each call recomputes, and Snakemake decides what to re-run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from folding.errors import MissingResourceError, ToolError

logger = logging.getLogger(__name__)

#: The Debian package that provides each program we call (for the "install it" hint).
DEBIAN_PACKAGES: dict[str, str] = {
    "jackhmmer": "hmmer",
    "hmmsearch": "hmmer",
    "hmmbuild": "hmmer",
    "hhblits": "hhsuite",
    "hhsearch": "hhsuite",
    "hhmake": "hhsuite",
    "ffindex_build": "hhsuite",
    "ffindex_from_fasta": "hhsuite",
    "cstranslate": "hhsuite",
    "mmseqs": "mmseqs2",
    "kalign": "kalign",
}

Argument = str | os.PathLike[str] | int | float


@dataclass(frozen=True)
class ToolRun:
    """One finished run of an external program."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def command(self) -> str:
        """The command line as one printable string (for logs; it is never run by a shell)."""
        return " ".join(_quote(a) for a in self.argv)


def find_binary(name: str, path: str | os.PathLike[str] | None = None) -> str:
    """The executable for ``name``: ``path`` when given, else the one on PATH.

    Raises :class:`MissingResourceError` naming the program and the Debian package that
    provides it when it cannot be found.
    """
    if path is not None:
        candidate = Path(path)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        found = shutil.which(str(path))
        if found:
            return found
        raise MissingResourceError(
            f"{name}: {path} is not an executable file; pass the path of the {name} program"
        )
    found = shutil.which(name)
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise MissingResourceError(
            f"{name} not found on PATH; install it (apt-get install {package}) "
            "or add the folder that holds it to PATH"
        )
    return found


def run_tool(
    argv: Sequence[Argument],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    fix: str = "check the input files and the database",
) -> ToolRun:
    """Run ``argv`` (a list, no shell) to completion and return its :class:`ToolRun`.

    ``argv[0]`` should come from :func:`find_binary`. A non-zero exit or a timeout raises
    :class:`ToolError` whose one-line message names the program, the exit status, the
    last line of its error output and ``fix`` (what the user should do). ``env`` entries
    are added to the current environment.
    """
    args = tuple(str(a) for a in argv)
    if not args:
        raise ValueError("run_tool needs a program to run")
    program = Path(args[0]).name
    full_env = None if env is None else {**os.environ, **env}
    logger.info("running %s", " ".join(_quote(a) for a in args))
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            args, cwd=cwd, env=full_env, input=stdin, capture_output=True, text=True,
            errors="replace", timeout=timeout, check=False,
        )
    except FileNotFoundError as error:
        raise MissingResourceError(
            f"{program}: cannot run {args[0]} ({error.strerror}); install it "
            f"(apt-get install {DEBIAN_PACKAGES.get(program, program)})"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise ToolError(
            f"{program} did not finish within {timeout:g} s; give it more time or "
            "a smaller database"
        ) from error
    seconds = time.perf_counter() - start
    run = ToolRun(args, completed.returncode, completed.stdout, completed.stderr, seconds)
    if completed.returncode != 0:
        detail = last_error_line(completed.stderr) or last_error_line(completed.stdout)
        detail = f": {detail}" if detail else ""
        raise ToolError(f"{program} failed with exit status {completed.returncode}{detail}; {fix}")
    logger.debug("%s finished in %.2f s", program, seconds)
    return run


def last_error_line(text: str, limit: int = 300) -> str:
    """The most informative line of a program's error output (an ERROR line, else the last)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    flagged = [
        line for line in lines
        if re.search(r"\b(error|fatal|failed|not found|cannot|can't|no such)\b", line, re.I)
    ]
    line = (flagged or lines)[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


_VERSION_PATTERN = re.compile(r"\d+(?:\.\d+)+(?:[-.\w]*)")


def tool_version(
    binary: str, args: Sequence[str] = ("-h",), pattern: str | None = None, timeout: float = 30
) -> str:
    """The version a program reports (e.g. ``"HMMER 3.3.2"``), or ``"unknown"``.

    Runs ``[binary, *args]`` and returns the first match of ``pattern`` (a regular
    expression; default: a line-initial program banner containing a dotted version number)
    in its output. Exit status is ignored: several tools print their banner with an
    error status.
    """
    try:
        completed = subprocess.run(
            [binary, *args], capture_output=True, text=True, errors="replace",
            timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = completed.stdout + "\n" + completed.stderr
    if pattern is not None:
        match = re.search(pattern, text, re.M)
        return match.group(match.lastindex or 0).strip() if match else "unknown"
    for line in text.splitlines():
        found = _VERSION_PATTERN.search(line)
        if found:
            return line.strip("# \t")[:80]
    return "unknown"


def _quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg) else repr(arg)
