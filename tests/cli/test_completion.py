"""Tab completion: the scripts of `fcnn completion` run in real shells (bash through its
completion function and through readline on a pseudo-terminal, fish through `complete -C`, zsh
with its completion builtins stubbed), and Hydra's answers reach `fcnn train` and `fcnn bench`.
The answers themselves, in process: tests/unit/test_completion_query.py."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, run_fcnn

from fcnn_cli import commands
from fcnn_cli.commands import completion
from fcnn_cli.commands.report import collect

COMMANDS = [*commands.hydra_apps(), *commands.plain_commands()]
# A group's options are its YAML files (Hydra lists them).
BACKENDS = sorted(p.stem for p in (REPO / "conf" / "backend").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (REPO / "conf" / "dataset").glob("*.yaml"))
EXPERIMENTS = {"ex5_1", "ex5_1_search", "ex5_2", "ex5_3", "ex5_4"}

# The `fcnn` the shells find first: the one installed next to this Python.
BIN = str(Path(sys.executable).parent)
SHELL_ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HYDRA_FULL_ERROR": "0"}

BASH_CALLS = r"""
source <(fcnn completion bash) || exit 1
complete -p fcnn
tab() {  # what bash sets before calling the function for a <TAB> at the end of "$1"
    COMP_LINE=$1; COMP_POINT=${#1}
    read -ra COMP_WORDS <<<"$1"; [[ $1 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _fcnn_complete fcnn "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s|' "$1"; printf '<%s>' "${COMPREPLY[@]}"; echo
}
"""


def _bash_replies(*lines: str) -> tuple[str, dict[str, list[str]]]:
    """`complete -p fcnn` and, per line, what the completion function puts in COMPREPLY."""
    code = BASH_CALLS + "".join(f"tab {shlex_quote(line)}\n" for line in lines)
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], env=SHELL_ENV, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, *rows = out.stdout.splitlines()
    replies = {}
    for row in rows:
        line, _, reply = row.partition("|")
        replies[line] = re.findall(r"<([^>]*)>", reply)
    return first, replies


def shlex_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_bash_function_completes_subcommands_and_hydra_overrides():
    registered, replies = _bash_replies(
        "fcnn rep", "fcnn train back", "fcnn train backend=", "fcnn train backend=jax-",
        "fcnn train experiment=ex", "fcnn train -m lr=0.1,0.05 optimizer.", "fcnn bench backe",
        "fcnn report --sort ", "fcnn report --sort=te", "fcnn data ", "fcnn ")
    assert registered.startswith("complete ") and "-F _fcnn_complete" in registered
    assert registered.endswith(" fcnn") and "-o nospace" in registered
    assert replies["fcnn rep"] == ["report "]  # finished: a space follows
    assert replies["fcnn train back"] == ["backend.", "backend="]  # unfinished: no space
    # readline replaces only the text after `=` (a COMP_WORDBREAKS character): the option alone
    assert replies["fcnn train backend="] == BACKENDS
    assert {"jax", "jax-grad", "numpy", "sklearn"} <= set(BACKENDS)
    assert replies["fcnn train backend=jax-"] == ["jax-grad "]
    assert set(replies["fcnn train experiment=ex"]) >= EXPERIMENTS
    assert all(r.startswith("ex") for r in replies["fcnn train experiment=ex"])
    # nested keys, after Hydra's own -m flag and an override
    assert {"optimizer.name=", "optimizer.momentum="} <= set(replies["fcnn train -m lr=0.1,0.05 optimizer."])
    assert replies["fcnn bench backe"] == ["backend=", "backends="]  # bench's own key, from Hydra
    assert replies["fcnn report --sort "] == list(collect.COLUMN_KEYS)
    assert replies["fcnn report --sort=te"] == ["test_acc "]
    assert {"fetch", "info"} <= set(replies["fcnn data "])
    assert replies["fcnn "] == COMMANDS and "completion" in COMMANDS


def _readline(keys: bytes, timeout: float = 60) -> str:
    """Type `keys` into an interactive bash on a pseudo-terminal after sourcing the script;
    returns the command line as readline left it (echoed back by `echo`)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive bash reading from the terminal
        os.chdir(REPO)
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"],
                   {**SHELL_ENV, "PS1": "$ ", "INPUTRC": "/dev/null", "TERM": "dumb"})
    buf, deadline = b"", time.monotonic() + timeout

    def read_until(pattern: bytes) -> re.Match | None:
        nonlocal buf
        while time.monotonic() < deadline:
            if match := re.search(pattern, buf):
                return match
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    buf += os.read(fd, 4096)
                except OSError:
                    return None
        return None

    try:
        read_until(rb"\$ $")
        os.write(fd, b"source <(fcnn completion bash); echo RE''ADY\n")
        assert read_until(rb"READY\r\n\$ $"), buf
        buf = b""
        # The keys, then: to the start of the line (C-a), prefix `echo` and run it.
        os.write(fd, keys + b"\x01echo RES''ULT: \x05\n")
        match = read_until(rb"RESULT: (.*)\r\n")
        assert match, buf
        return match.group(1).decode()
    finally:
        os.write(fd, b"exit\n")
        os.waitpid(pid, 0)
        os.close(fd)


# The child execs bash at once, so JAX's threads in this process cannot deadlock it.
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_readline_completes_in_an_interactive_bash():
    assert _readline(b"fcnn train backend=jax-g\t") == "fcnn train backend=jax-grad"
    assert _readline(b"fcnn rep\t") == "fcnn report"
    assert _readline(b"fcnn train experim\t") == "fcnn train experiment="


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes():
    code = ("fcnn completion fish | source\n"
            "for line in 'fcnn train back' 'fcnn train backend=' 'fcnn rep' 'fcnn train experiment=ex'\n"
            "    echo \"== $line\"; complete -C\"$line\"\nend\n")
    out = subprocess.run(["fish", "--no-config", "-c", code], env=SHELL_ENV, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in out.stdout.split("== ")[1:]}
    assert blocks["fcnn train back"] == ["backend.", "backend="]
    assert blocks["fcnn train backend="] == [f"backend={b}" for b in BACKENDS]
    assert blocks["fcnn rep"] == ["report"]
    assert {f"experiment={e}" for e in EXPERIMENTS} <= set(blocks["fcnn train experiment=ex"])


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses_and_adds_the_candidates():
    script = run_fcnn("completion", "zsh")
    assert script.returncode == 0
    syntax = subprocess.run(["zsh", "-n"], input=script.stdout, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    # compadd and _files only work inside zsh's completion widgets: record their arguments.
    code = r"""
compdef() { print -r -- "compdef $*" }
compadd() { print -r -- "compadd $*" }
_files() { print -r -- "_files" }
source <(fcnn completion zsh)
tab() { words=(${=1}); [[ $1 == *" " ]] && words+=(""); CURRENT=${#words}; PREFIX=${words[CURRENT]}; _fcnn }
tab "fcnn train back"; tab "fcnn train backend="; tab "fcnn rep"; tab "fcnn report "
"""
    out = subprocess.run(["zsh", "-f", "-c", code], env=SHELL_ENV, cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "compdef _fcnn fcnn",
        "compadd -S  -- backend. backend=",  # no space after an unfinished word
        "compadd -- " + " ".join(f"backend={b}" for b in BACKENDS),
        "compadd -- report",
        "_files",  # report's directories: file names
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_parses():
    script = run_fcnn("completion", "fish").stdout
    assert subprocess.run(["fish", "-n"], input=script, text=True).returncode == 0


def test_hydra_sc_flag_on_a_subcommand():
    """Hydra's documented `-sc install=bash` installs fcnn's whole completion; `-sc query`
    answers for the subcommand (Hydra alone would read `train` as a broken override)."""
    install = run_fcnn("train", "-sc", "install=bash")
    assert install.returncode == 0 and install.stdout == completion.script("bash")
    query = run_fcnn("train", "-sc", "query=bash", env={"COMP_LINE": "fcnn train dataset="})
    assert query.returncode == 0, query.stderr
    assert query.stdout.split() == [f"dataset={d}" for d in DATASETS]
    assert {"digits", "fashion", "mnist"} <= set(DATASETS)
    bad = run_fcnn("bench", "-sc", "install=tcsh")
    assert bad.returncode == 2 and "bash, zsh, fish" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_completion_command_needs_a_shell():
    result = run_fcnn("completion")
    assert result.returncode == 2 and "bash, zsh, fish" in result.stderr
    assert "Traceback" not in result.stderr
