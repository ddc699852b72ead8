"""The package's layering: only ui.py imports streamlit, and the package never reaches into the app's pages."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import alexnet_explorer

PACKAGE = Path(alexnet_explorer.__file__).parent
HEADLESS = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("ui", "__init__"))


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at any depth of its code."""
    tree = ast.parse(path.read_text())
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return names + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]


def test_the_package_has_the_modules_this_test_guards():
    assert {"config", "data", "model", "train", "runs", "launcher", "inspection", "preprocess"} <= set(HEADLESS)


@pytest.mark.parametrize("module", HEADLESS)
def test_no_module_but_ui_imports_streamlit_or_the_pages(module):
    roots = {name.split(".")[0] for name in imported_modules(PACKAGE / f"{module}.py")}
    assert not roots & {"streamlit", "streamlit_drawable_canvas", "app_pages"}


def test_importing_every_headless_module_loads_no_streamlit():
    # Transitive imports too: a headless module importing ui.py would pull streamlit in.
    code = (f"import sys\nfor m in {HEADLESS!r}: __import__('alexnet_explorer.' + m)\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'streamlit'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout
    assert out.strip() == "[]"
