"""Shared set-up for the validation scripts (not part of the package)."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import fpstt  # noqa: E402
from fpstt.io import to_jsonable  # noqa: E402

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
FIGURES = ROOT.parent / "docs" / "figures"
FIG4_TIMES = [0.0, 1 / 3, 2 / 3, 1.0]


def table_i():
    micro = fpstt.table_i()
    return fpstt.SpinTorqueModel.from_microscopic(micro), fpstt.GibbsState.from_microscopic(micro)


def write(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)
