"""Run directories in process: atomic files (whole or not at all) and claiming a directory (a
suffix for the default pattern, a named one only when new or empty; discarded without a trace).
Through a real `fcnn train`: tests/cli/test_runs.py."""

from __future__ import annotations

import os

import pytest

from fcnn_cli import atomic
from fcnn_cli.errors import UsageError
from fcnn_cli.runs import claim

# --- atomic files -------------------------------------------------------------------------------

def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "metrics.json"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError), atomic.atomic_open(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- claiming directories -----------------------------------------------------------------------

def test_claim_takes_a_suffix_for_the_default_pattern_and_refuses_a_named_directory(tmp_path):
    claims = claim.Claims()
    first = claims.claim(tmp_path / "a" / "12-00-00", "hydra.run.dir", named=False)
    second = claims.claim(tmp_path / "a" / "12-00-00", "hydra.run.dir", named=False)
    third = claims.claim(tmp_path / "a" / "12-00-00", "hydra.run.dir", named=False)
    assert [p.name for p in (first, second, third)] == ["12-00-00", "12-00-00-1", "12-00-00-2"]
    (first / "x").write_text("mine")
    with pytest.raises(UsageError, match="is not empty"):
        claims.claim(first, "hydra.run.dir", named=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claims.claim(empty, "hydra.run.dir", named=True) == empty
    # A second run racing for the same empty directory finds it taken.
    with pytest.raises(UsageError, match="not empty|taken"):
        claims.claim(empty, "hydra.run.dir", named=True)


def test_a_finished_bench_is_named_as_such(tmp_path):
    """A directory `fcnn bench` finished in (its bench.json and .hydra) is refused as a finished
    bench, not as a run that has not finished."""
    claims = claim.Claims()
    bench = tmp_path / "bench"
    (bench / ".hydra").mkdir(parents=True)
    (bench / ".hydra" / "config.yaml").write_text("backends: null\n")
    (bench / "bench.json").write_text("{}")
    (bench / "bench.md").write_text("| backend |")
    assert claim.describe_existing(bench) == "already holds a finished bench (bench.json)"
    with pytest.raises(UsageError, match=r"finished bench \(bench.json\); nothing was overwritten"):
        claims.claim(bench, "hydra.run.dir", named=True)


def test_discard_leaves_the_file_system_as_it_was(tmp_path):
    claims = claim.Claims()
    new = claims.claim(tmp_path / "x" / "y" / "run", "hydra.run.dir", named=True)
    (new / ".hydra" / "config.yaml").parent.mkdir(exist_ok=True)
    (new / ".hydra" / "config.yaml").write_text("lr: 1")
    claims.discard(new)
    assert list(tmp_path.iterdir()) == []  # the run and the parents it created are gone
    mine = tmp_path / "mine"
    mine.mkdir()
    claims.claim(mine, "hydra.run.dir", named=True)
    (mine / "train.log").write_text("log")
    claims.discard(mine)
    assert mine.is_dir() and list(mine.iterdir()) == []  # the user's directory stays, emptied
    claims.discard(tmp_path)  # never claimed: untouched
    assert mine.is_dir()
