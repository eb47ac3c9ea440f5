"""Factorisations started ahead, on worker threads.

A sparse LU (SuperLU) releases the GIL while it factorises, so a factorisation that a run
will need next can be computed on the machine's other core while the current step's solves
go on: the next longer substeps of :mod:`fpstt.numerics.adaptive`, and the exact inverses of
:mod:`fpstt.numerics.direct` (a split step's other piece, a window that has shrunk).  It is
the same factorisation of the same matrix, so what is started ahead changes when the answer is
ready, never the answer.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["start", "ready", "result"]

WORKERS = 2
_EXECUTOR = None        # started on first use, and again in a forked child


def start(fn, *args) -> Future:
    """``fn(*args)`` on a worker thread."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fpstt-ahead")
    return _EXECUTOR.submit(fn, *args)


def ready(item) -> bool:
    """True unless ``item`` is a Future still running."""
    return not isinstance(item, Future) or item.done()


def result(item):
    """``item``, or a Future's result (waiting for it)."""
    return item.result() if isinstance(item, Future) else item


def _forget() -> None:
    """In a forked child: the parent's worker threads are not there, so its executor would
    queue work that no thread takes (sweeps and model-space runs fork)."""
    global _EXECUTOR
    _EXECUTOR = None


os.register_at_fork(after_in_child=_forget)
