"""Every ```python block of the Python API's pages (docs/topics/python-api.md, notebooks.md) runs
as written, one after the other, in a fresh interpreter in an empty directory (on digits)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = ("python-api.md", "notebooks.md")


def python_blocks(page: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (REPO / "docs" / "topics" / page).read_text(),
                      re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_python_runs_as_written(page, tmp_path):
    blocks = python_blocks(page)
    assert blocks
    script = "\n".join(f"# --- block {n}\n{block}" for n, block in enumerate(blocks, 1))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
