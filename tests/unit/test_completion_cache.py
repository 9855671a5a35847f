"""The completion cache: Hydra's answer for a word's stem, kept per config-tree signature."""

from __future__ import annotations

import os

import pytest

from fcnn_cli.commands import completion_cache as cache


@pytest.mark.parametrize("word, stem", [
    ("", ""), ("back", ""), ("optimizer.", "optimizer."), ("optimizer.mo", "optimizer."),
    ("backend=nu", "backend="), ("+ar", "+"), ("++lr", "++"), ("~back", "~"),
    ("hydra.run.d", "hydra.run."), ("+tags.ow", "+tags."),
])
def test_stem(word, stem):
    assert cache.stem(word) == stem


@pytest.mark.parametrize("word, ok", [
    ("back", True), ("backend=nu", True), ("lr=0.1", True), ("dataset.path=./da", False),
    ("dataset.path=/tm", False), ("resume=outputs/2026", False), ("resume=~", False),
])
def test_paths_are_never_cached(word, ok):
    assert cache.cacheable(word) == ok


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNN_DATA_DIR", str(tmp_path / "data"))
    conf = tmp_path / "conf"
    (conf / "backend").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "config.yaml").write_text("defaults: []\n")
    (conf / "backend" / "jax.yaml").write_text("name: jax\n")
    monkeypatch.setattr(cache, "conf_dir", lambda: conf)
    return conf


def test_hydra_is_asked_once_per_stem_and_context(private_cache):
    asked = []

    def hydra(line):
        asked.append(line)
        return ["backend.", "backend=", "batch_size="]

    assert cache.candidates("train", "bash", "fcnn ", "back", hydra) == ["backend.", "backend="]
    assert cache.candidates("train", "bash", "fcnn ", "ba", hydra) == ["backend.", "backend=",
                                                                        "batch_size="]
    assert asked == ["fcnn "]  # the second word shares the first one's stem
    cache.candidates("bench", "bash", "fcnn ", "back", hydra)  # another app: asked anew
    cache.candidates("train", "bash", "fcnn optimizer=adam ", "back", hydra)  # another context
    assert asked == ["fcnn ", "fcnn ", "fcnn optimizer=adam "]
    cache.candidates("train", "bash", "fcnn ", "dataset.path=/tm", hydra)  # a path: never kept
    cache.candidates("train", "bash", "fcnn ", "dataset.path=/tm", hydra)
    assert asked[-2:] == ["fcnn dataset.path=/tm"] * 2


def test_a_change_in_the_config_tree_empties_the_cache(private_cache):
    asked = []
    hydra = lambda line: asked.append(line) or ["backend="]  # noqa: E731
    cache.candidates("train", "bash", "fcnn ", "b", hydra)
    cache.candidates("train", "bash", "fcnn ", "b", hydra)
    assert len(asked) == 1
    option = private_cache / "backend" / "jax.yaml"
    stat = option.stat()
    os.utime(option, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    cache.candidates("train", "bash", "fcnn ", "b", hydra)
    assert len(asked) == 2
    (private_cache / "backend" / "numpy.yaml").write_text("name: numpy\n")  # a new option
    cache.candidates("train", "bash", "fcnn ", "b", hydra)
    assert len(asked) == 3


def test_a_damaged_cache_file_is_ignored(private_cache):
    cache.cache_file().parent.mkdir(parents=True)
    cache.cache_file().write_text("{not json")
    assert cache.candidates("train", "bash", "fcnn ", "b", lambda line: ["backend="]) == ["backend="]
