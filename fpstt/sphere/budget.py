"""Memory and time a run will take, estimated before it allocates anything.

A run that would need more memory than the machine has is refused with a ``ValueError``
that says how much it would need; one that would take more than a minute warns
(``RuntimeWarning``) with its estimate.  The rates below were measured on Table I and
are rough: they guard against runaway sizes, they are no benchmark.
"""

from __future__ import annotations

import math
import os
import warnings

__all__ = ["available_memory", "check_memory", "warn_time", "BYTES_PER_CELL",
           "SECONDS_PER_VALUE", "MC_SECONDS_PER_STEP", "MC_BYTES_PER_TRAJECTORY"]

# peak resident memory per grid cell: phi-independent models on the fast Fourier path
# (measured 435 B on Table I), others in real space, sparse LU or line solves (1850 B)
BYTES_PER_CELL = {True: 512, False: 2048}
# solver time per value of the state per step: Fourier modes x rows on the fast path
# (2.2e-8 s on Table I), cells in real space (1.6e-7 s with a field kept on)
SECONDS_PER_VALUE = {True: 2.5e-8, False: 1.6e-7}
MC_SECONDS_PER_STEP = 4e-7          # per trajectory and step (2.8e6 trajectory-steps/s)
MC_BYTES_PER_TRAJECTORY = 400       # the arrays a chunk holds, per trajectory
_WARN_SECONDS = 60.0


def available_memory() -> int:
    """Bytes this process may still allocate: the system's available memory, or the
    control group's limit if that is lower."""
    limits = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as handle:
            text = handle.read().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    if not limits:
        limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(limits)


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 1e3:.3g} kB"


def _duration(seconds: float) -> str:
    for unit, scale in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def check_memory(nbytes: float, what: str, remedy: str) -> None:
    """ValueError when ``what`` would need more than the available memory."""
    available = available_memory()
    if not nbytes <= available:
        amount = _size(nbytes) if math.isfinite(nbytes) else "unbounded memory"
        raise ValueError(f"{what} would need about {amount} of memory, more than the "
                         f"{_size(available)} available; {remedy}")


def warn_time(seconds: float, what: str) -> None:
    """RuntimeWarning when ``what`` should take more than a minute."""
    if seconds > _WARN_SECONDS:
        warnings.warn(f"{what} will take about {_duration(seconds)} (a rough estimate)",
                      RuntimeWarning, stacklevel=3)
