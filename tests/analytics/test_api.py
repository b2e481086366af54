"""The analytics package's surface: explicit exports, documented columns, and purity."""

from __future__ import annotations

import ast
import inspect
import tomllib
from pathlib import Path

import pytest

import leadsync.analytics as la

PACKAGE = Path(la.__file__).parent
#: Modules that would mean I/O, the network, the environment or the clock.
FORBIDDEN_IMPORTS = {"httpx", "requests", "notion_client", "pyairtable", "os", "socket",
                     "urllib", "sqlite3", "pathlib", "io", "subprocess", "time", "random"}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "open", "getenv", "read_csv", "to_csv"}


def test_all_is_explicit_unique_and_importable() -> None:
    assert len(set(la.__all__)) == len(la.__all__)
    for name in la.__all__:
        assert hasattr(la, name), name
    public_functions = {n for n, v in vars(la).items()
                        if inspect.isfunction(v) and not n.startswith("_")}
    assert public_functions <= set(la.__all__)


@pytest.mark.parametrize("name", [n for n in la.__all__ if inspect.isfunction(getattr(la, n))])
def test_every_function_documents_its_columns_and_takes_keywords(name: str) -> None:
    function = getattr(la, name)
    doc = inspect.getdoc(function) or ""
    assert "olumns" in doc, f"{name} does not document its output columns"
    parameters = inspect.signature(function).parameters.values()
    timed = [p for p in parameters if p.name in ("as_of", "on", "start")]
    assert timed, f"{name} takes no as_of/on/start"
    assert all(p.kind is p.KEYWORD_ONLY for p in timed)


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_modules_are_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            roots = set()
        assert not roots & FORBIDDEN_IMPORTS, f"{path.name} imports {roots & FORBIDDEN_IMPORTS}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{path.name} calls {called}()"


def test_the_package_is_installed() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    packages = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "leadsync.analytics" in packages["packages"]
