"""A FASTA sequence database searched by pyhmmer in parallel byte ranges.

HMMER's binaries read the database in one thread and hand blocks of sequences to worker
threads. pyhmmer searches a file fastest when it streams it in C (no Python object per
sequence), but only from a path, and a path is read from its start. So the file is cut at
record boundaries into byte ranges; each range is streamed through a pipe (opened by path
as ``/dev/fd/N``) that a ``dd`` process fills, and each worker thread
searches one range at a time with its own pipeline (pyhmmer releases the GIL while it
reads and searches). The hits of the ranges are merged with E-values for the whole
database (``TopHits.merge`` sums the number of sequences searched), as HMMER merges its
workers' hits. Where ``/dev/fd`` or ``dd`` is missing, the file is searched whole in one thread.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from folding.errors import InputError, MissingResourceError, ToolError

#: Ranges per thread, so that ranges with many hits do not leave other threads idle.
RANGES_PER_THREAD = 4
#: Upper bound on a range's size, so that big databases are split finely.
MAX_RANGE_BYTES = 1 << 28


class FastaDatabase:
    """A protein FASTA file to search with pyhmmer."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from pyhmmer import easel

        self.path = Path(path)
        if not self.path.is_file():
            raise MissingResourceError(
                f"sequence database {self.path} not found; build or download it "
                "(folding databases)"
            )
        self.size = self.path.stat().st_size
        if self.size == 0:
            raise MissingResourceError(f"sequence database {self.path} is empty; rebuild it")
        self.alphabet = easel.Alphabet.amino()

    def ranges(self, pieces: int) -> list[tuple[int, int]]:
        """``pieces`` (or fewer) byte ranges that each start at a ``>`` header."""
        cuts = [0]
        with open(self.path, "rb") as handle:
            for i in range(1, pieces):
                position = _next_record(handle, self.size * i // pieces)
                if cuts[-1] < position < self.size:
                    cuts.append(position)
        cuts.append(self.size)
        return list(itertools.pairwise(cuts))

    @contextlib.contextmanager
    def open_range(self, start: int, end: int) -> Iterator:
        """A digital pyhmmer ``SequenceFile`` reading bytes ``start:end`` of the database."""
        if (start, end) == (0, self.size):
            with self._open(str(self.path)) as handle:
                yield handle
            return
        read_fd, write_fd = os.pipe()
        try:
            # The feeder is another process, never a thread of ours: pyhmmer opens the
            # file holding the GIL, and a feeder thread waiting for the GIL deadlocked.
            feeder = subprocess.Popen(
                ["dd", f"if={self.path}", "bs=1M", "iflag=skip_bytes,count_bytes",
                 f"skip={start}", f"count={end - start}", "status=none"],
                stdin=subprocess.DEVNULL, stdout=write_fd, stderr=subprocess.PIPE,
            )
        finally:
            os.close(write_fd)
        finished = False
        try:
            with self._open(f"/dev/fd/{read_fd}") as handle:
                yield handle
            finished = True
        finally:
            os.close(read_fd)  # a feeder still writing gets SIGPIPE and stops
            _, error = feeder.communicate()
        if finished and feeder.returncode != 0:
            raise ToolError(
                f"reading bytes {start}-{end} of {self.path} failed "
                f"(dd: {error.decode(errors='replace').strip() or feeder.returncode})"
            )

    @contextlib.contextmanager
    def _open(self, name: str) -> Iterator:
        from pyhmmer import easel

        try:
            with easel.SequenceFile(name, format="fasta", digital=True,
                                    alphabet=self.alphabet) as handle:
                yield handle
        except (ValueError, EOFError) as error:
            raise InputError(
                f"sequence database {self.path} is not a readable protein FASTA file "
                f"({error}); rebuild it"
            ) from error


def _next_record(handle, position: int) -> int:
    """The offset of the first ``>`` that starts a line at or after ``position``."""
    handle.seek(max(position - 1, 0))
    carry = b""
    base = handle.tell()
    while True:
        chunk = handle.read(1 << 16)
        if not chunk:
            return handle.tell()
        data = carry + chunk
        found = data.find(b"\n>")
        if found >= 0:
            return base - len(carry) + found + 1
        carry = data[-1:]
        base += len(chunk)


def parallel_available() -> bool:
    """Ranges are streamed by ``dd`` through pipes opened as ``/dev/fd/N``."""
    return Path("/dev/fd").is_dir() and shutil.which("dd") is not None


def search_ranges(
    database: FastaDatabase,
    search: Callable[[object], object],
    threads: int,
    pool: ThreadPoolExecutor | None,
):
    """Run ``search(sequence_file)`` on each range of ``database``; return merged TopHits.

    ``search`` receives an open digital ``SequenceFile`` and returns ``TopHits``; it runs
    in the pool's threads, so it must use a pipeline of its own thread.
    """
    if threads <= 1 or pool is None or not parallel_available():
        with database.open_range(0, database.size) as handle:
            return search(handle)
    pieces = max(threads * RANGES_PER_THREAD, -(-database.size // MAX_RANGE_BYTES))

    def one(byte_range: tuple[int, int]):
        with database.open_range(*byte_range) as handle:
            return search(handle)

    results = list(pool.map(one, database.ranges(pieces)))
    return results[0].merge(*results[1:])
