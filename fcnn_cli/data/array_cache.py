"""Parsed arrays cached in an .npz that says what it was built from, and is checked before use.

Each cache file carries, next to its arrays, a record (`__meta__`, JSON): the format version,
the sources it was built from (for IDX files: path, size and modification time), the name, shape
and dtype of every array, and a CRC-32 of their contents. A cache that cannot be read (damaged,
truncated), that was built from other sources, or whose contents do not match its record is
never used: `load` says so in one line on stderr, removes it, and the caller rebuilds it.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from fcnn_cli import atomic

META = "__meta__"
VERSION = 2


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """CRC-32 over the arrays' names, shapes, dtypes and bytes, in name order."""
    crc = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(f"{name}:{array.shape}:{array.dtype.str};".encode(), crc)
        crc = zlib.crc32(memoryview(array).cast("B"), crc)
    return f"{crc:08x}"


def _record(arrays: dict[str, np.ndarray], sources: Any) -> dict[str, Any]:
    return {
        "version": VERSION,
        # JSON round trip: tuples become lists, so a record read back compares equal.
        "sources": json.loads(json.dumps(sources)),
        "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str}
                   for name, a in sorted(arrays.items())},
        "crc32": checksum(arrays),
    }


def save(path: Path, arrays: dict[str, np.ndarray], sources: Any) -> None:
    """Write `arrays` and their record atomically (parallel sweep jobs may read it meanwhile)."""
    if META in arrays:
        raise ValueError(f"{META} is reserved")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = np.array(json.dumps(_record(arrays, sources)))
    with atomic.atomic_open(path, "wb") as f:
        np.savez(f, **arrays, **{META: meta})


def load(path: Path, sources: Any, rebuilt_from: str) -> dict[str, np.ndarray] | None:
    """The cached arrays if `path` holds a sound cache built from `sources`; else None.

    A cache that is there but unusable is removed, with a one-line notice on stderr naming what
    it will be rebuilt from (`rebuilt_from`).
    """
    if not path.exists():
        return None
    arrays, meta, problem = _read(path)
    if problem is None:
        problem = _mismatch(arrays, meta, sources)
    if problem is None:
        return arrays
    print(f"fcnn: note: the data cache {path} {problem}; rebuilding it from {rebuilt_from}",
          file=sys.stderr, flush=True)
    path.unlink(missing_ok=True)
    return None


def _read(path: Path) -> tuple[dict[str, np.ndarray], Any, str | None]:
    """(arrays, record, None), or (..., why it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except Exception as err:  # noqa: BLE001 - damaged in any way: BadZipFile, EOFError, zlib...
        return {}, None, f"cannot be read ({type(err).__name__}: {_first_line(err)})"
    if META not in arrays:
        return {}, None, "has no record of what it was built from (an older fcnn wrote it)"
    try:
        meta = json.loads(str(arrays.pop(META)))
    except ValueError:
        return {}, None, "has a damaged record"
    return arrays, meta, None


def _mismatch(arrays: dict[str, np.ndarray], meta: Any, sources: Any) -> str | None:
    """Why `arrays` with their record `meta` cannot stand for `sources`; None if they can."""
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        return "was written in another format"
    if meta.get("sources") != json.loads(json.dumps(sources)):
        return "was built from other files (they changed since)"
    found = {name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in sorted(arrays.items())}
    if meta.get("arrays") != found:
        return "does not hold the arrays its record lists"
    if meta.get("crc32") != checksum(arrays):
        return "does not match its checksum (its contents changed)"
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no detail"
