"""Progress of concurrent downloads: one summary line every few seconds, on stderr.

Downloads run in threads; each reports bytes as they arrive. A background thread
prints, every ``interval`` seconds, the bytes received over the bytes expected, the
rate and the files still running, e.g.::

    download: 1.2 GB / 34.0 GB (3.5%), 41.8 MB/s; running: uniref90.fasta.gz 3%

Notes (a database installed, skipped, failed) are printed as they happen. With
``interval=0`` no thread runs and only notes are printed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _FileProgress:
    total: int | None
    done: int
    finished: bool = False


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    return f"{count:.1f} TB"


class Progress:
    """Thread-safe byte counters with a periodic printer."""

    def __init__(
        self, interval: float = 5.0, printer: Callable[[str], None] | None = None
    ) -> None:
        self.interval = interval
        self._print = printer or (lambda line: print(line, file=sys.stderr, flush=True))
        self._files: dict[str, _FileProgress] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._start_bytes = 0

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._files:
            self._print(self.summary())

    def add(self, name: str, total: int | None, done: int = 0) -> None:
        with self._lock:
            self._files[name] = _FileProgress(total, done)
            self._start_bytes += done
        if done:
            self.note(f"{name}: resuming at {human_bytes(done)}")

    def set_total(self, name: str, total: int) -> None:
        with self._lock:
            self._files[name].total = total

    def reset(self, name: str) -> None:
        with self._lock:
            self._files[name].done = 0

    def advance(self, name: str, count: int) -> None:
        with self._lock:
            self._files[name].done += count

    def finish(self, name: str) -> None:
        with self._lock:
            entry = self._files.get(name)
            if entry is not None:
                entry.finished = True
                done = entry.done
        self.note(f"{name}: downloaded {human_bytes(done)}")

    def note(self, line: str) -> None:
        self._print(f"download: {line}")

    def summary(self) -> str:
        with self._lock:
            files = dict(self._files)
            done = sum(f.done for f in files.values())
            known = all(f.total is not None for f in files.values())
            total = sum(f.total or 0 for f in files.values())
            running = [
                f"{name} {100 * f.done / f.total:.0f}%" if f.total else name
                for name, f in files.items() if not f.finished
            ]
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = (done - self._start_bytes) / elapsed
        share = f" ({100 * done / total:.1f}%)" if known and total else ""
        text = f"download: {human_bytes(done)}"
        if known:
            text += f" / {human_bytes(total)}{share}"
        text += f", {human_bytes(rate)}/s"
        if running:
            text += "; running: " + ", ".join(running)
        return text

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                active = any(not f.finished for f in self._files.values())
            if active:
                self._print(self.summary())
