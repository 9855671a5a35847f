"""`fcnn report` shows how often a job was requeued (SLURM's time limit, preemption), in a column
of its own only when some run was."""

from __future__ import annotations

import json
from pathlib import Path

from fcnn_cli.commands.report.collect import read_run
from fcnn_cli.commands.report.render import shown_columns


def _run(root: Path, name: str, **metrics) -> Path:
    path = root / name
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text("lr: 0.1\n")
    (path / "metrics.json").write_text(json.dumps({"status": "completed", **metrics}))
    return path


def test_the_requeued_column_appears_only_when_a_run_was_requeued(tmp_path):
    plain = read_run(_run(tmp_path, "0"))
    never = read_run(_run(tmp_path, "1", requeues=0))
    twice = read_run(_run(tmp_path, "2", requeues=2))
    assert plain.row["requeues"] is None and never.row["requeues"] is None
    assert twice.row["requeues"] == 2
    assert "requeues" not in shown_columns([plain, never])
    assert "requeues" in shown_columns([plain, twice])
