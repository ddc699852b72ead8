"""The package's floors: each module imports only from the floors below it, the network and the plain types at the
bottom import nothing of the package, and no import hides behind TYPE_CHECKING (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import alexnet_explorer

PACKAGE = Path(alexnet_explorer.__file__).parent

# Bottom first; a module may import from any floor below its own, never from its own floor or above.
FLOORS = [
    {"model", "pipelines", "options", "events", "devices", "schedule", "preprocess", "exports", "unfamiliar"},
    {"data", "distributed"},
    {"config", "activations"},
    {"runs"},
    {"classifier", "processes", "inspection", "top_images", "feature_visualisation"},
    {"classroom", "evaluation", "prediction", "handcrafted", "neighbours"},
    {"launcher", "train", "class_test_set", "plots"},
    {"estimate"},
    {"history"},
    {"scoreboard"},
    {"__main__"},
]
FLOOR = {module: level for level, modules in enumerate(FLOORS) for module in modules}


def modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def package_imports(module: str) -> set[str]:
    """The package's modules a module imports, at any depth of its code (inside functions too)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("alexnet_explorer")):
            name = (node.module or "").removeprefix("alexnet_explorer").lstrip(".")
            found |= {name.split(".")[0]} if name else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("alexnet_explorer.")}
    return found


def test_every_module_stands_on_one_floor():
    assert sorted(FLOOR) == modules()


@pytest.mark.parametrize("module", modules())
def test_a_module_imports_only_from_the_floors_below_it(module):
    above = {name: FLOOR[name] for name in package_imports(module) if FLOOR[name] >= FLOOR[module]}
    assert not above, f"{module} (floor {FLOOR[module]}) imports from its floor or above: {above}"


def test_the_network_and_the_plain_types_import_nothing_of_the_package():
    assert {module: package_imports(module) for module in FLOORS[0]} == {module: set() for module in FLOORS[0]}


@pytest.mark.parametrize("module", modules())
def test_no_import_hides_behind_type_checking(module):
    assert "TYPE_CHECKING" not in (PACKAGE / f"{module}.py").read_text()


def test_the_floor_finder_sees_every_form_of_import(tmp_path, monkeypatch):
    # The oracle for the checks above: relative, absolute and function-level imports are all found.
    (tmp_path / "sample.py").write_text("from . import runs\nfrom .config import RunConfig\n"
                                        "import alexnet_explorer.data\ndef f():\n    from alexnet_explorer.train import train\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    assert package_imports("sample") == {"runs", "config", "data", "train"}
