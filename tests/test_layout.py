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
