"""Checks the ``fpstt`` CLI makes before any work (:mod:`fpstt.cli.commands`): option values, the
outputs it will write, and the one line it prints when interrupted.

Bad input is refused with one line naming the option, before anything is computed or
written.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

__all__ = ["integer", "number", "join_negative_values", "preflight", "check_output",
           "interrupted_note", "argv_or_default", "FIGURE"]

FIGURE = "figure"                # an output suffix matplotlib can write
_NEGATIVE = re.compile(r"-(\d|\.\d|inf|nan)", re.IGNORECASE)
_LARGEST_INT = 2 ** 53           # integers beyond this are not counts anyone means


def integer(low: int, high: int = _LARGEST_INT):
    """argparse type: an integer in [low, high]."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}, got {text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be an integer ≤ {high:.3g}, got {text}")
        return value
    return parse


def number(low: float = -math.inf, high: float = math.inf, *, closed_high: bool = True,
           what: str = ""):
    """argparse type: a finite number in (low, high] (or (low, high) unless
    ``closed_high``); ``what`` says why, in the message."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        above = value < high or (closed_high and value == high)
        if not (math.isfinite(value) and value > low and above):
            bounds = [f"> {low:g}" if low > -math.inf else "",
                      f"{'≤' if closed_high else '<'} {high:g}" if high < math.inf else ""]
            rule = " and ".join(b for b in bounds if b) or "finite"
            raise argparse.ArgumentTypeError(f"must be finite and {rule}{what}, got {text}")
        return value
    return parse


def join_negative_values(argv: list[str]) -> list[str]:
    """``--times -1,0`` as ``--times=-1,0``: argparse takes a value that starts with '-'
    and is not a plain number for an option."""
    joined, k = [], 0
    while k < len(argv):
        token = argv[k]
        if (token.startswith("--") and "=" not in token and k + 1 < len(argv)
                and _NEGATIVE.match(argv[k + 1])):
            joined.append(f"{token}={argv[k + 1]}")
            k += 2
        else:
            joined.append(token)
            k += 1
    return joined


def _figure_suffixes() -> set[str]:
    from matplotlib.backend_bases import FigureCanvasBase
    return {f".{name}" for name in FigureCanvasBase.get_supported_filetypes()}


def check_output(path, option: str, suffixes=None) -> None:
    """Refuse an output ``path`` that cannot be written: a wrong suffix (``suffixes``: a
    tuple, :data:`FIGURE`, or None for any), a folder, a parent that is a file, a folder
    that refuses new files.  Writes nothing (a probe file is created and removed)."""
    path = Path(path)
    valid = _figure_suffixes() if suffixes == FIGURE else suffixes
    if valid is not None and path.suffix.lower() not in valid:
        raise ValueError(f"`{option}` must end in one of {sorted(valid)}, got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"`{option}` {path} is a folder, not a file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"`{option}` {path}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".fpstt-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"`{option}` {path}: cannot write in {folder} "
                         f"({exc.strerror or exc})") from None


def preflight(args) -> None:
    """Every check that needs no computation: outputs, and checkpoint options that would
    otherwise be ignored."""
    if getattr(args, "out", None) is not None:
        check_output(args.out, "--out", getattr(args, "out_suffixes", None))
    if getattr(args, "plot", None) is not None:
        check_output(args.plot, "--plot", FIGURE)
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        for flag, given in (("--checkpoint-every", getattr(args, "checkpoint_every", None)),
                            ("--resume", getattr(args, "resume", False))):
            if given:
                raise ValueError(f"`{flag}` needs `--checkpoint FILE`")
        return
    check_output(checkpoint, "--checkpoint", (".npz",))
    if getattr(args, "out", None) is not None and Path(checkpoint) == Path(args.out):
        raise ValueError("`--checkpoint` must differ from `--out`")
    if getattr(args, "resume", False) and not Path(checkpoint).is_file():
        raise ValueError(f"`--checkpoint` {checkpoint} does not exist (`--resume` reads it)")


def interrupted_note(args, argv) -> str:
    """The line printed on Ctrl-C / SIGTERM: how to resume, where the run can."""
    command = "fpstt " + " ".join(shlex.quote(a) for a in argv)
    if args.command == "sweep":
        return (f"interrupted; finished points are kept in {args.out}: resume with "
                f"`{command}`")
    if getattr(args, "checkpoint", None) is not None:
        again = command if getattr(args, "resume", False) else f"{command} --resume"
        return f"interrupted; resume with `{again}`"
    if hasattr(args, "checkpoint"):
        return "interrupted (add `--checkpoint FILE` to make a run resumable)"
    return "interrupted"


def argv_or_default(argv) -> list[str]:
    """The argument list main() parses."""
    return list(sys.argv[1:] if argv is None else argv)
