"""`scripts/bench_compare.py` for real: HEAD in a temporary worktree against the working tree, a
tiny timing job on digits, A B A B; the table, the JSON, and nothing left behind. (The cached
environment from constraints.txt is skipped with --python: building it takes minutes.)"""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO


def _worktrees() -> list[str]:
    out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if line.startswith("worktree "))


def test_head_against_the_working_tree_on_digits(tmp_path):
    before = _worktrees()
    out = tmp_path / "compare.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_compare.py"), "--ref", "HEAD", "--rounds", "2",
         "--backends", "numpy", "--warmup", "0", "--python", sys.executable, "--json", str(out),
         "dataset=digits", "struct=[32]", "max_epochs=2"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stderr.splitlines() if line.startswith("round")] == \
        ["round"] * 4
    assert [line.split()[2] for line in proc.stderr.splitlines() if line.startswith("round")] == \
        ["A:", "B:", "A:", "B:"]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("numpy"))
    assert "(same)" in row  # same code path, same seed: the same model on both sides
    result = json.loads(out.read_text())
    numpy = result["comparison"]["numpy"]
    assert numpy["rounds"] == 2 and numpy["ratio"] > 0
    assert numpy["ratio_min"] <= numpy["ratio_max"]
    assert [(r["round"], r["side"]) for r in result["runs"]] == [(1, "A"), (1, "B"), (2, "A"), (2, "B")]
    assert _worktrees() == before  # the temporary worktree is gone


def test_a_ref_that_is_no_commit_is_refused_in_one_line():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_compare.py"), "--ref",
                           "no-such-ref-xyz"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "is not a commit" in proc.stderr and "Traceback" not in proc.stderr
