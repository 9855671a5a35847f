"""constraints.txt, the versions `make setup` installs (issue 19, item 5): every package that
pyproject.toml names, in every extra, is pinned; the file installs on another machine (no local
paths); the Makefile installs with it and regenerates it with pip-compile."""

from __future__ import annotations

import re
import tomllib

from helpers import REPO

CONSTRAINTS = REPO / "constraints.txt"


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group()).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[_name(name)] = version.strip()
    return pins


def test_every_dependency_of_every_extra_is_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for requirements in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in requirements}
    wanted.discard(_name(project["name"]))  # the test extra names the package's own extras
    pins = _pins()
    assert not wanted - set(pins), f"not pinned in constraints.txt: {sorted(wanted - set(pins))}"
    for name in ("numpy", "jax", "jaxlib", "scikit-learn", "scipy"):
        assert re.fullmatch(r"\d+(\.\d+)*", pins[name]), (name, pins[name])


def test_constraints_hold_no_local_path_and_not_fcnn_itself():
    lines = [line for line in CONSTRAINTS.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in lines if "file:" in line or " @ " in line]
    assert "fcnn-cli" not in _pins()


def test_make_setup_installs_with_the_constraints_and_make_constraints_writes_them():
    makefile = (REPO / "Makefile").read_text()
    assert "CONSTRAINTS := constraints.txt" in makefile
    stamp_rule = makefile.split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "$(CONSTRAINTS)" in stamp_rule.splitlines()[0]  # a new pin reinstalls
    assert 'pip install -q -c $(CONSTRAINTS) -e ".[test]"' in stamp_rule
    constraints_rule = makefile.split("\nconstraints: ", 1)[1].split("\n\n", 1)[0]
    assert "pip-compile" in constraints_rule and "-o $(CONSTRAINTS) pyproject.toml" in constraints_rule
    for extra in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]:
        assert f"--extra {extra}" in constraints_rule, extra
