"""What a run left on disk: its metrics, and a digest of every file (to prove nothing changed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def snapshot(root: Path) -> dict[str, str]:
    """Every file below `root` with a digest of its bytes (to prove nothing was changed)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
