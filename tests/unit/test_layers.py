"""The house's layers hold: import-linter's contracts (pyproject.toml), no import cycle in
fcnn_cli, the light paths stay light (the estimator never loads Hydra), and the layout page
names every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (test extras)")
def test_import_contracts_are_kept():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout and "KEPT" in result.stdout


def _import_graph() -> dict[str, set[str]]:
    import grimp  # import-linter's own graph builder

    graph = grimp.build_graph("fcnn_cli")
    return {module: {m for m in graph.find_modules_directly_imported_by(module)
                     if m.startswith("fcnn_cli")}
            for module in graph.modules if module.startswith("fcnn_cli")}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (test extras)")
def test_no_import_cycle_between_modules_type_checking_imports_included():
    # grimp counts imports under `if TYPE_CHECKING:` and inside functions as edges too.
    assert _cycles(_import_graph()) == []


def test_at_most_ten_modules_at_the_top():
    top = sorted(p.name for p in (REPO / "fcnn_cli").glob("*.py"))
    assert len(top) <= 10, top


def test_the_layout_page_names_every_module():
    # docs/development/layout.md is where a newcomer learns what each module holds: a module
    # missing from it (17 were, by stop 25) is a room nobody is told about.
    page = (REPO / "docs" / "development" / "layout.md").read_text()
    modules = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "fcnn_cli").rglob("*.py")
                     if p.name != "__init__.py")
    assert [m for m in modules if f"`{m}`" not in page] == []


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(sorted(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return set(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own printout


def test_the_estimator_never_loads_hydra():
    loaded = _modules_after(
        "import numpy as np, fcnn_cli\n"
        "rng = np.random.default_rng(0)\n"
        "x, y = rng.random((60, 5)), np.arange(60) % 3\n"
        "clf = fcnn_cli.FCNNClassifier(struct=[4], backend='numpy', max_epochs=2).fit(x, y)\n"
        "assert clf.predict(x).shape == (60,)\n")
    assert "fcnn_cli.training.loop" in loaded  # it really trained
    assert not {m for m in loaded if m.split(".")[0] in ("hydra", "omegaconf")}


def test_train_help_is_written_from_the_schema_without_hydra():
    loaded = _modules_after(
        "from fcnn_cli import cli\n"
        "try:\n    cli.main(['train', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n")
    assert "fcnn_cli.config.reference" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("hydra", "omegaconf", "jax", "sklearn")}


def test_the_wheel_ships_every_config_directory():
    # pyproject.toml lists each conf/ directory as a package of its own (conf/schedule was
    # missing once: an installed fcnn refused its own default, "schedule: no option 'exponential'")
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {"fcnn_cli.conf." + ".".join(p.relative_to(REPO / "conf").parts)
            for p in (REPO / "conf").rglob("*") if p.is_dir() and any(p.glob("*.yaml"))}
    assert dirs - set(setuptools["packages"]) == set()
    assert dirs - set(setuptools["package-data"]) == set()
