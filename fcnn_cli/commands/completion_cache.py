"""A cache of Hydra's completion answers, so that a <TAB> on `fcnn train` / `fcnn bench` keys
costs a lookup instead of importing Hydra and composing the config (0.3-0.6 s a press).

Hydra's answer for a word depends on the rest of the line (the overrides compose the config it
lists) and on the word only up to its last `.` or `=`: `back` is answered from ``, `optimizer.mo`
from `optimizer.`, `backend=nu` from `backend=`. So the cache keeps Hydra's whole answer for that
stem in that context, and the caller keeps the candidates that start with the word. Values that
look like paths (`dataset.path=./da`) are never cached: they list the file system.

The cache is one JSON file in the user's cache directory, valid for one signature of the config
tree (every YAML's name, size and mtime), the settings schema and fcnn's version: editing conf/
or upgrading fcnn starts it afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from fcnn_cli import atomic
from fcnn_cli._version import __version__
from fcnn_cli.paths import conf_dir, data_home

#: Answers kept at most; the oldest go first.
MAX_ENTRIES = 2000
_STEM = re.compile(r"^(\+\+|\+|~)?(.*[.=])?")


def cache_file() -> Path:
    return data_home() / "completion-cache.json"


def stem(word: str) -> str:
    """The part of `word` Hydra's answer depends on: its +/++/~ and up to its last `.` or `=`."""
    match = _STEM.match(word)
    return match.group(0) if match else ""


def cacheable(word: str) -> bool:
    """False for a value that names a file (Hydra completes those from the file system)."""
    if "=" not in word:
        return True
    value = word.split("=", 1)[1]
    return not (value.startswith((".", "~", "/")) or "/" in value)


def signature() -> str:
    """What the cached answers depend on: the config tree, the schema and fcnn's version."""
    root = conf_dir()
    digest = hashlib.sha1(__version__.encode())
    schema = Path(__file__).resolve().parents[1] / "config" / "schema.py"
    files = sorted({*root.rglob("*.yaml"), *(root / "experiment").glob("*.yaml"), schema})
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root.parent) if path.is_relative_to(root.parent) else path}"
                      f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _load(sig: str) -> dict[str, list[str]]:
    try:
        found = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("signature") != sig:
        return {}
    answers = found.get("answers")
    return answers if isinstance(answers, dict) else {}


def candidates(app: str, shell: str, context: str, word: str,
               ask_hydra: Callable[[str], list[str]]) -> list[str]:
    """The candidates for `word` after `context` (app `app`'s Hydra line before the word), those
    of Hydra's answer for the word's stem, `ask_hydra(line)`, from the cache when it has them."""
    if not cacheable(word):
        return ask_hydra(context + word)
    sig = signature()
    answers = _load(sig)
    key = f"{app}\0{shell}\0{context}\0{stem(word)}"
    if key not in answers:
        answers[key] = ask_hydra(context + stem(word))
        while len(answers) > MAX_ENTRIES:
            answers.pop(next(iter(answers)))
        try:
            cache_file().parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(cache_file(), json.dumps({"signature": sig, "answers": answers}))
        except OSError:
            pass  # no cache this time (a read-only home): the answer is still right
    return [c for c in answers[key] if c.startswith(word)]
