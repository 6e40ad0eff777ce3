"""JAX's persistent compilation cache, switched on at run time (never at import).

XLA compiles the model once per input shape and process; a prediction job is a fresh
process, so without a cache every job compiles again (minutes on a GPU for a long
protein). With the cache on, compiled executables are written to a folder keyed by the
program, the shapes, the device and the JAX/XLA versions; a later process with the
same shapes (see :mod:`folding.model.buckets`) loads them instead of compiling.

The default folder is ``$XDG_CACHE_HOME/folding/jax`` (``~/.cache/folding/jax``);
``folding model run --compilation-cache DIR`` or ``FOLDING_COMPILATION_CACHE`` choose
another (a folder on shared storage serves a whole cluster), ``none`` switches it off.
:class:`CompileCounter` counts compilations and cache hits through JAX's monitoring
events, so a run can log what it compiled and what it loaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "FOLDING_COMPILATION_CACHE"
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_MISS_EVENT = "/jax/compilation_cache/cache_misses"


def default_cache_dir() -> Path | None:
    """The cache folder: ``$FOLDING_COMPILATION_CACHE`` ("none": off), else the user's
    cache folder."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return None if chosen.lower() == "none" else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "folding" / "jax"


def enable_compilation_cache(folder: Path | None, min_compile_seconds: float = 0.0) -> None:
    """Point JAX's persistent compilation cache at ``folder`` (None: leave it off).

    Every compilation of at least ``min_compile_seconds`` is stored. Call before the
    first compilation of the process.
    """
    if folder is None:
        return
    import jax

    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    log.info("JAX compilation cache: %s", folder)


@dataclass
class CompileCounter:
    """Counts XLA compilations and persistent-cache hits and misses from JAX's
    monitoring events while :meth:`start` .. :meth:`stop` are active.

    ``requests`` counts executables JAX asked for (compiled or loaded from the cache,
    with their seconds); ``compiled`` those XLA actually compiled.
    """

    requests: int = 0
    request_seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    _active: bool = field(default=False, repr=False)

    def _on_event(self, event: str, **_kwargs) -> None:
        if not self._active:
            return
        if event == _HIT_EVENT:
            self.cache_hits += 1
        elif event == _MISS_EVENT:
            self.cache_misses += 1

    def _on_duration(self, event: str, seconds: float, **_kwargs) -> None:
        if self._active and event == _COMPILE_EVENT:
            self.requests += 1
            self.request_seconds += seconds

    def start(self) -> CompileCounter:
        from jax import monitoring

        if not self._active:
            monitoring.register_event_listener(self._on_event)
            monitoring.register_event_duration_secs_listener(self._on_duration)
            self._active = True
        return self

    def stop(self) -> CompileCounter:
        from jax._src import monitoring as _monitoring

        if self._active:
            self._active = False
            for unregister, callback in (
                    ("unregister_event_listener", self._on_event),
                    ("unregister_event_duration_listener", self._on_duration)):
                remove = getattr(_monitoring, unregister, None)
                if remove is not None:
                    with contextlib.suppress(AssertionError, ValueError):
                        remove(callback)
        return self

    @property
    def compiled(self) -> int:
        return self.requests - self.cache_hits

    def describe(self) -> str:
        return (f"{self.compiled} XLA compilations, {self.cache_hits} executables loaded "
                f"from the persistent cache ({self.request_seconds:.1f} s in all)")
