"""The real `fcnn completion --query` answers Hydra-app keys from its cache once it has asked
Hydra: the cached answer is the one Hydra gave, and the cache is what answers the second time."""

from __future__ import annotations

import json

from helpers import run_fcnn


def _query(line: str, data_dir, shell: str = "bash") -> list[str]:
    result = run_fcnn("completion", "--query", shell,
                      env={"COMP_LINE": line, "FCNN_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_second_tab_is_answered_from_the_cache(tmp_path):
    first = _query("fcnn train optimizer.mo", tmp_path)
    momentum = ["optimizer.momentum=", "optimizer.momentum_epochs=", "optimizer.momentum_start="]
    assert first == momentum
    cache = tmp_path / "completion-cache.json"
    stored = json.loads(cache.read_text())
    (key,) = [k for k in stored["answers"] if k.startswith("train\0bash\0")]
    assert set(stored["answers"][key]) >= {"optimizer.momentum=", "optimizer.nesterov="}
    # Prove who answers next: a candidate only the cache knows.
    stored["answers"][key].append("optimizer.mocked=")
    cache.write_text(json.dumps(stored))
    assert _query("fcnn train optimizer.mo", tmp_path) == [*momentum, "optimizer.mocked="]
    assert _query("fcnn train optimizer.ne", tmp_path) == ["optimizer.nesterov="]
    assert _query("fcnn bench backe", tmp_path) == ["backend=", "backends="]  # its own app


def test_warm_fills_what_first_tabs_need(tmp_path):
    result = run_fcnn("completion", "--warm", "bash", env={"FCNN_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    keys = {tuple(k.split("\0")) for k in
            json.loads((tmp_path / "completion-cache.json").read_text())["answers"]}
    for app in ("train", "bench"):
        assert {(app, "bash", "fcnn ", stem) for stem in ("", "+", "~", "backend=", "optimizer.")} <= keys
    assert ("train", "bash", "fcnn ", "probe.") in keys and ("bench", "bash", "fcnn ", "probe.") not in keys


def test_the_scripts_warm_the_cache_in_the_background():
    for shell in ("bash", "zsh"):
        script = run_fcnn("completion", shell).stdout
        assert f"(fcnn completion --warm {shell} >/dev/null 2>&1 &)" in script
