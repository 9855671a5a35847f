"""The suite's own layout: plain helpers live in tests/helpers/ and test files import them from
there, never from conftest.py, which holds only fixtures and pytest's hooks (a helper imported
from conftest works only while pytest happens to have put tests/ on sys.path, and hides which
file is a plugin); conftest's ordering names only test files that exist."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):  # function-level imports too
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_file_imports_from_conftest():
    offenders = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                       if p.name != "conftest.py"
                       and {"conftest", "tests.conftest"} & _imported_modules(_tree(p)))
    assert offenders == [], f"import these from helpers (tests/helpers/), not conftest: {offenders}"


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) in ("pytest.fixture", "fixture")


def test_conftest_holds_only_fixtures_and_hooks():
    plain = [node.name for node in _tree(TESTS / "conftest.py").body
             if isinstance(node, ast.ClassDef)
             or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
             and not (node.name.startswith("pytest_") or any(map(_is_fixture, node.decorator_list)))]
    assert plain == [], f"move these to tests/helpers/: {plain}"


def test_helpers_hold_no_fixtures():
    # A fixture in a plain module is found by no test: pytest looks for them in conftest files.
    fixtures = [f"{p.name}:{node.name}" for p in (TESTS / "helpers").glob("*.py")
                for node in ast.walk(_tree(p))
                if isinstance(node, ast.FunctionDef) and any(map(_is_fixture, node.decorator_list))]
    assert fixtures == []


def test_the_longest_first_files_exist():
    tree = _tree(TESTS / "conftest.py")
    names = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "LONGEST_FIRST")
    existing = {p.name for p in TESTS.rglob("test_*.py")}
    assert [n for n in names if n not in existing] == []
