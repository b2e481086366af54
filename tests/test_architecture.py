"""The shape of the package: arrows that run one way, no import circle, an opt-in emulator.

- production modules never load the emulator (a test double);
- no module of leadsync (core, connectors, reports, emulator) takes part in an
  import circle, counting every import a module names, lazy or under
  ``TYPE_CHECKING``;
- the core reaches the connectors only through :func:`leadsync.sources.open_source`
  and the lazy notebook names of ``leadsync``, never by an import statement;
- installing leadsync registers no pytest plugin; ``-p leadsync.emulator.pytest_plugin``
  gives the fixtures.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Where each installed package lives in the tree (pyproject's package-dir mapping).
PACKAGES = {"leadsync": REPO / "leadsync", "leadsync.connectors": REPO / "connectors",
            "leadsync.reports": REPO / "reports"}


def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    found: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            if name.startswith("leadsync.connectors") and package == "leadsync":
                continue
            found[name] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports anywhere in its text."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            if target.split(".")[0] in ("connectors", "reports"):  # the tree's own names
                target = f"leadsync.{target}"
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_import_circle_anywhere() -> None:
    found = modules()
    known = set(found)
    graph = {name: imported(name, path, known) for name, path in found.items()}
    # A package's __init__ re-exporting its own submodules is not a circle: every
    # import of a submodule runs its package first by design.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(f"{t}.")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target):], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_core_imports_no_connector_and_production_no_emulator() -> None:
    found = modules()
    known = set(found)
    # the demo, serve and bootstrap --sample (its sample organisation) commands
    allowed_emulator = {"leadsync.cli", "leadsync.demo"}
    for name, path in found.items():
        targets = imported(name, path, known)
        if not name.startswith(("leadsync.connectors", "leadsync.reports")):
            assert not {t for t in targets if t.startswith("leadsync.connectors")}, name
        if not name.startswith("leadsync.emulator") and name not in allowed_emulator:
            assert not {t for t in targets if t.startswith("leadsync.emulator")}, name


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_connectors_and_setup_load_no_emulator_module() -> None:
    code = ("import sys; import leadsync.connectors.notion, leadsync.connectors.airtable, "
            "leadsync.setup, leadsync.sync, leadsync.testing; "
            "print(sorted(m for m in sys.modules if m.startswith('leadsync.emulator')))")
    assert run_python(code) == "[]"


def test_installing_leadsync_registers_no_pytest_plugin() -> None:
    entry_points = importlib.metadata.distribution("leadsync").entry_points
    assert [e for e in entry_points if e.group == "pytest11"] == []


USER_TESTS = '''
import sys

def test_uses_the_emulator(leadsync_emulator):
    assert leadsync_emulator.url.startswith("http://127.0.0.1:")
'''

BARE_SESSION = '''
import sys

def test_no_leadsync_module_was_loaded():
    assert sorted(m for m in sys.modules if m.startswith("leadsync")) == []
'''


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    (folder / "pytest.ini").write_text("[pytest]\n")  # this folder is the rootdir
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_fixtures_are_opt_in(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    (tmp_path / "test_bare.py").write_text(textwrap.dedent(BARE_SESSION))

    plain = pytest_in(tmp_path)
    assert plain.returncode == 1, plain.stdout
    assert "fixture 'leadsync_emulator' not found" in plain.stdout
    assert "1 passed" in plain.stdout  # the bare session loaded no leadsync module

    enabled = pytest_in(tmp_path, "-p", "leadsync.emulator.pytest_plugin", "test_user.py")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    assert "1 passed" in enabled.stdout


@pytest.mark.parametrize("kind", ["notion", "airtable"])
def test_the_config_template_keeps_the_seed_names(kind: str) -> None:
    """The default layout moved to the core; the template and the emulator still agree."""
    from leadsync.emulator.sample import default_fields as sample_fields
    from leadsync.layout import default_fields
    from leadsync.setup import config_template

    assert sample_fields is default_fields
    template = config_template(kind)  # type: ignore[arg-type]
    assert '"Team Member"' in template
    assert '"Signal Type"' in template
