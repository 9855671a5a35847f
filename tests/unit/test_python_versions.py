"""Which Pythons fcnn claims, said alike everywhere it is said: pyproject.toml's requires-python
and classifiers, the Makefile's floor and candidates, constraints.txt's interpreter and the
README. (The Makefile's choice itself: tests/cli/test_make_python.py.)"""

from __future__ import annotations

import re
import tomllib

from helpers.paths import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
MAKEFILE = (REPO / "Makefile").read_text()


def floor() -> tuple[int, int]:
    match = re.fullmatch(r">=(\d+)\.(\d+)", PROJECT["requires-python"])
    assert match, PROJECT["requires-python"]
    return int(match.group(1)), int(match.group(2))


def makefile_value(name: str) -> str:
    match = re.search(rf"^{name}\s*:=\s*(.+)$", MAKEFILE, re.M)
    assert match, name
    return match.group(1).strip()


def test_the_makefiles_floor_and_candidates_are_requires_python():
    low = floor()
    assert makefile_value("MIN_PYTHON") == f"{low[0]}.{low[1]}"
    candidates = makefile_value("PYTHON_CANDIDATES").split()
    versioned = [tuple(map(int, c.removeprefix("python").split("."))) for c in candidates[:-1]]
    assert versioned[0] == low and candidates[-1] == "python3"
    assert versioned == [(3, minor) for minor in range(low[1], low[1] + len(versioned))]
    assert "PYTHON ?= python3.11" not in MAKEFILE  # the one interpreter it once insisted on


def test_the_classifiers_name_the_versions_claimed_and_none_below_the_floor():
    listed = [tuple(map(int, c.rsplit(" ", 1)[1].split("."))) for c in PROJECT["classifiers"]
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert listed == [(3, minor) for minor in range(floor()[1], floor()[1] + len(listed))]
    assert "Programming Language :: Python :: 3 :: Only" in PROJECT["classifiers"]
    # every version claimed is one the Makefile would take
    makes = set(makefile_value("PYTHON_CANDIDATES").split())
    assert {f"python{major}.{minor}" for major, minor in listed} <= makes


def test_constraints_were_compiled_on_a_version_claimed():
    header = (REPO / "constraints.txt").read_text().split("\n", 3)[1]
    match = re.search(r"with Python (\d+)\.(\d+)", header)
    assert match and (int(match.group(1)), int(match.group(2))) >= floor(), header


def test_the_readme_says_the_floor_and_how_to_name_a_python():
    readme = " ".join((REPO / "README.md").read_text().split())
    low = floor()
    assert f"Python {low[0]}.{low[1]} or newer" in readme
    assert "PYTHON=" in readme and "make which-python" in readme
    assert "need only Python 3.11" not in readme
