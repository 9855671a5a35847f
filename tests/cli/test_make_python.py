"""Which Python the Makefile makes .venv with: PYTHON=... when given, else the first of python3.11,
python3.12, python3.13, python3.14 and python3 on the PATH that runs and is 3.11 or newer; it says
which (`make which-python`, and `make run` when it creates .venv), and when there is none, one
line saying so. Only one Python may be installed where the tests run: stand-in interpreters (tiny
shell scripts that answer the Makefile's version probe) on a PATH of their own play the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import REPO

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs GNU make")

CANDIDATES = "python3.11 python3.12 python3.13 python3.14 python3"


def stand_in(directory: Path, name: str, version: str | None) -> Path:
    """An executable `name` in `directory` that answers `-c 'import sys; ...'` with `version`
    ("3.12"), as Python would print it; with version None, one that fails as a pyenv shim of a
    version not selected does (exit 127)."""
    path = directory / name
    if version is None:
        path.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    else:
        path.write_text("#!/bin/sh\n"
                        'case "$2" in *sys.version_info*) ;; *) exit 2;; esac\n'
                        f'[ "$1" = -c ] && echo {version}\n')
    path.chmod(0o755)
    return path


def make(tmp_path: Path, pythons: dict[str, str | None], *args: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`make -s ARGS` with the repository's Makefile, run in `tmp_path`, with a PATH that holds
    only the stand-ins `pythons` (name -> version) and `date` (which the Makefile reads)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, version in pythons.items():
        stand_in(bin_dir, name, version)
    (bin_dir / "date").unlink(missing_ok=True)
    (bin_dir / "date").symlink_to(shutil.which("date"))
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run([MAKE, "-s", "-f", str(REPO / "Makefile"), *args], cwd=tmp_path,
                          env={**clean, "PATH": str(bin_dir), **(env or {})},
                          capture_output=True, text=True, timeout=60)


def chosen(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    return line


@pytest.mark.parametrize("pythons, taken", [
    # 3.11 is missing, 3.12 comes before python3; python3.10 is never a candidate
    ({"python3.10": "3.10", "python3.12": "3.12", "python3": "3.13"}, "python3.12 (3.12)"),
    ({"python3.11": "3.11", "python3.13": "3.13"}, "python3.11 (3.11)"),
    ({"python3": "3.12"}, "python3 (3.12)"),  # Colab's and most new machines' case
    ({"python3.14": "3.14", "python3": "3.10"}, "python3.14 (3.14)"),
    # a shim that does not run (pyenv, version not selected) is passed over
    ({"python3.11": None, "python3.13": "3.13"}, "python3.13 (3.13)"),
    ({"python3": "4.0"}, "python3 (4.0)"),
])
def test_the_first_python_of_at_least_3_11_is_taken_and_named(tmp_path, pythons, taken):
    line = chosen(make(tmp_path, pythons, "which-python"))
    assert line == (f"Python: {taken}, the first of {CANDIDATES} on the PATH that is 3.11 or "
                    "newer")


def test_the_venv_is_made_with_the_python_taken(tmp_path):
    result = make(tmp_path, {"python3.10": "3.10", "python3.12": "3.12"}, "-n", ".venv/bin/python")
    assert result.returncode == 0, result.stderr
    assert "python3.12 -m venv .venv" in result.stdout.splitlines()
    assert "Python: python3.12 (3.12)" in result.stdout


@pytest.mark.parametrize("pythons", [{}, {"python3": "3.10", "python3.10": "3.10"},
                                     {"python3": "2.7"}, {"python3.12": None, "python3": None}])
def test_no_python_new_enough_is_one_line(tmp_path, pythons):
    for target in ("which-python", ".venv/bin/python"):
        result = make(tmp_path, pythons, target)
        assert result.returncode != 0 and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert "need Python 3.11 or newer" in line and CANDIDATES in line
        assert "PYTHON=" in line
    assert not (tmp_path / ".venv").exists()


def test_python_given_wins(tmp_path):
    named = stand_in(tmp_path, "my-python", "3.13")
    pythons = {"python3.11": "3.11", "python3": "3.12"}
    assert chosen(make(tmp_path, pythons, "which-python", f"PYTHON={named}")) == (
        f"Python: {named} (3.13), as PYTHON= names")
    assert chosen(make(tmp_path, pythons, "which-python", env={"PYTHON": str(named)})) == (
        f"Python: {named} (3.13), as PYTHON= names")
    result = make(tmp_path, pythons, "-n", ".venv/bin/python", f"PYTHON={named}")
    assert f"{named} -m venv .venv" in result.stdout.splitlines()


@pytest.mark.parametrize("version, fragment", [
    ("3.10", "is Python 3.10; need 3.11 or newer"),
    (None, "not found, or not a Python that runs"),
])
def test_a_python_given_that_will_not_do_is_one_line(tmp_path, version, fragment):
    named = stand_in(tmp_path, "old-python", version)
    result = make(tmp_path, {"python3.12": "3.12"}, "which-python", f"PYTHON={named}")
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert f"PYTHON={named}" in line and fragment in line


def test_a_real_python_answers_the_probe():
    """The probe with this very interpreter, not a stand-in: its own version."""
    result = subprocess.run([MAKE, "-s", "-C", str(REPO), "which-python",
                             f"PYTHON={sys.executable}"], capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items()
                                             if k not in ("MAKEFLAGS", "MFLAGS")})
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert chosen(result) == f"Python: {sys.executable} ({version}), as PYTHON= names"
