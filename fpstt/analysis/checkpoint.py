"""Checkpoints of long runs, one format for the solver and for Monte Carlo.

A checkpoint is an ``.npz`` file written atomically (:func:`~fpstt.analysis.io.atomic_savez`):
the run's named arrays and a JSON ``record`` of its scalars, tagged with the run's
``signature``, which maps each part of the run's definition (model, grid, times, seed, ...)
to a string.  A run resumes only its own checkpoint: the refusal names the parts that differ.
"""

from __future__ import annotations

import json

import numpy as np

from .io import atomic_savez, read_npz

__all__ = ["write_checkpoint", "read_checkpoint"]


def write_checkpoint(path, signature: dict, arrays: dict, record: dict):
    """Write ``arrays`` and the JSON-able ``record`` to ``path``, tagged with ``signature``."""
    tagged = dict(record, signature=signature)
    return atomic_savez(path, **arrays, record=np.array(json.dumps(tagged)))


def read_checkpoint(path, signature: dict, names, what: str) -> tuple[dict, dict]:
    """(arrays ``names``, record) of the checkpoint at ``path``, written by the same run.

    Raises
    ------
    ValueError
        One line: no path given, a file that is not ``what`` (:func:`~fpstt.analysis.io.read_npz`),
        or another run's checkpoint (naming the parts of ``signature`` that differ).
    """
    if path is None:
        raise ValueError("`resume`=True needs a `checkpoint` path")
    arrays = read_npz(path, ("record", *names), what)
    record = json.loads(str(arrays.pop("record")))
    theirs = record.pop("signature", None)
    theirs = theirs if isinstance(theirs, dict) else {}
    differ = [name for name, value in signature.items() if theirs.get(name) != value]
    if differ:
        raise ValueError(f"checkpoint {path} belongs to a different run (different "
                         f"{', '.join(differ)}); resume the run that wrote it, or start "
                         "afresh without resuming")
    return arrays, record
