"""The package's layout: sub-packages in layers, each importing only from those before it
(the order of the ``fpstt`` docstring), so that there is no import circle."""

import ast
import pathlib

import fpstt

LAYERS = ["sphere", "physics", "analysis", "flow", "numerics", "integration", "runs", "cli"]
ROOT = pathlib.Path(fpstt.__file__).parent


def _imported_packages(path):
    """The sub-packages a module of fpstt imports from (relative imports, any depth)."""
    own = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = (node.module or "").split(".")
            found.add(own if node.level == 1 else parts[0])
    return found - {""}


def test_every_module_lives_in_a_layer():
    loose = {p.name for p in ROOT.glob("*.py")} - {"__init__.py", "__main__.py", "_version.py"}
    assert not loose
    assert {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} == set(LAYERS)


def test_layers_import_only_from_below():
    upward = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).glob("*.py")):
            for dep in _imported_packages(path) - {"_version"}:
                if LAYERS.index(dep) > LAYERS.index(layer):
                    upward.append(f"{layer}/{path.name} imports {dep}")
    assert upward == []


def test_the_docstring_lists_the_layers_in_order():
    doc = fpstt.__doc__
    positions = [doc.index(f":mod:`fpstt.{layer}`") for layer in LAYERS]
    assert positions == sorted(positions)


def test_the_fourier_path_never_loads_numba():
    """numba's start-up (~1 s) is paid only by runs that use the compiled loops: importing
    fpstt and solving the Table I problem (the Fourier path of ``fpstt fig4``) do not load it;
    a chart run does."""
    import subprocess
    import sys
    code = ("import sys, fpstt\n"
            "micro = fpstt.table_i()\n"
            "model = fpstt.SpinTorqueModel.from_microscopic(micro)\n"
            "gibbs = fpstt.GibbsState.from_microscopic(micro)\n"
            "grid = fpstt.default_grid(model, [0, 0.1], initial=gibbs)\n"
            "fpstt.solve(model, grid, gibbs.cell_averages(grid), [0.1])\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-1] == "False"
