"""Factorisations started ahead, on worker threads.

A sparse LU (SuperLU) releases the GIL while it factorises, so a factorisation that a run
will need next can be computed on the machine's other core while the current step's solves
go on: the next longer substeps of :mod:`fpstt.numerics.adaptive`, and the exact inverse of
a split step's other piece (:mod:`fpstt.numerics.direct`).  It is the same factorisation of
the same matrix, so what is started ahead changes when the answer is ready, never the answer.
:class:`Kept` holds such factorisations, finished or started, by key.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["start", "ready", "result", "Kept"]

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


class Kept:
    """Factorisations by key: the ``size`` finished ones used last, and those started ahead
    (:meth:`start`) while they run."""

    def __init__(self, size: int):
        self.size, self._items = size, {}

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key, make):
        """(the factorisation of ``key``, how it came: "made" now by ``make()``, "started"
        ahead, or "kept" from an earlier use); it is then the most recently used."""
        item = self._items.pop(key, None)
        how = "made" if item is None else "kept" if not isinstance(item, Future) else "started"
        item = make() if item is None else result(item)
        self._keep(key, item)
        return item, how

    def start(self, key, make) -> bool:
        """Start ``make()`` on a worker thread for ``key``; False when it is there already."""
        if key in self._items:
            return False
        self._keep(key, start(make))
        return True

    def pending(self) -> int:
        """Factorisations started ahead and still running."""
        return sum(not ready(item) for item in self._items.values())

    def _keep(self, key, item) -> None:
        finished = [k for k, v in self._items.items() if ready(v)]
        while len(finished) >= self.size:
            self._items.pop(finished.pop(0))               # the least recently used
        self._items[key] = item


def _forget() -> None:
    """In a forked child: the parent's worker threads are not there, so its executor would
    queue work that no thread takes (sweeps and model-space runs fork)."""
    global _EXECUTOR
    _EXECUTOR = None


os.register_at_fork(after_in_child=_forget)
