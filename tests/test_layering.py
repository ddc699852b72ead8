"""The package's layering: no module of alexnet_explorer, in any subpackage, imports Streamlit, its canvas component
or the app's pages (the app's widgets live in app_pages/widgets/), and every module imports where they cannot."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import alexnet_explorer

PACKAGE = Path(alexnet_explorer.__file__).parent
FILES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN = ("app_pages", "streamlit", "streamlit_drawable_canvas")


def module_name(path: Path) -> str:
    """The name a file of the package is imported by: 'alexnet_explorer.data'; a package's __init__.py, the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = [module_name(path) for path in FILES]


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at any depth of its code."""
    tree = ast.parse(path.read_text())
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return names + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]


def test_the_package_has_the_modules_this_test_guards():
    guarded = {"config", "data", "model", "train", "runs", "launcher", "inspection", "preprocess", "classroom"}
    assert {f"alexnet_explorer.{name}" for name in guarded} <= set(MODULES)
    assert "alexnet_explorer.ui" not in MODULES  # the app's widgets moved to app_pages/widgets/


@pytest.mark.parametrize("path", FILES, ids=module_name)
def test_no_module_of_the_package_imports_streamlit_or_the_pages(path):
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert not roots & set(FORBIDDEN)


def test_every_module_imports_in_an_interpreter_where_streamlit_cannot_be_imported():
    # A fresh interpreter in which importing Streamlit, the canvas or the pages fails: a module that needs one of
    # them, directly or through another module, fails to import. Nothing of them may be loaded afterwards either.
    code = (
        "import importlib, sys\n"
        f"for name in {FORBIDDEN!r}:\n"
        "    sys.modules[name] = None\n"
        "try:\n"
        "    import streamlit\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('importing streamlit did not fail')\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(n for n, m in sys.modules.items() if m is not None and n.split('.')[0] in {FORBIDDEN!r}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
