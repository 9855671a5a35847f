"""JAX's compilation cache in fcnn's data directory (fcnn_cli/backends/jax_cache.py): a second run
reads its programs instead of compiling them and ends on the same bits as a run without the
cache; FCNN_JAX_CACHE=0 and a JAX_COMPILATION_CACHE_DIR of the user's own leave it off."""

from __future__ import annotations

import os

from helpers import run_fcnn

from fcnn_cli.backends import jax_cache

RUN = ("train", "backend=jax", "dataset=digits", "struct=[16]", "max_epochs=2", "progress=false",
       "plot=false")


def _train(run_dir, data_dir, **env):
    result = run_fcnn(*RUN, f"hydra.run.dir={run_dir}",
                      env={"FCNN_DATA_DIR": str(data_dir), "JAX_COMPILATION_CACHE_DIR": "", **env})
    assert result.returncode == 0, result.stderr
    return (run_dir / "model.npz").read_bytes()


def _entries(data_dir) -> dict[str, bytes]:
    """The cache's files (compiled programs and their last-use stamps) and their bytes."""
    return {p.name: p.read_bytes() for p in (data_dir / "jax").rglob("*") if p.is_file()}


def test_a_second_run_reads_its_programs_and_ends_on_the_same_bits(tmp_path):
    data = tmp_path / "data"
    first = _train(tmp_path / "one", data)
    cached = _entries(data)
    programs = {name for name in cached if name.endswith("-cache")}
    assert any(name.startswith("jit__epoch") for name in programs), sorted(cached)
    assert len({p.parent for p in (data / "jax").rglob("*-cache")}) == 1  # one CPU's directory
    second = _train(tmp_path / "two", data)
    again = _entries(data)
    # Nothing compiled anew, and every program read: JAX stamps an entry's last use on a hit.
    assert {name for name in again if name.endswith("-cache")} == programs
    assert all(again[name] != cached[name] for name in again if name.endswith("-atime"))
    off = _train(tmp_path / "three", tmp_path / "data-off", FCNN_JAX_CACHE="0")
    assert first == second == off
    assert not (tmp_path / "data-off" / "jax").exists()


def test_a_damaged_entry_is_compiled_afresh_without_a_word(tmp_path):
    data = tmp_path / "data"
    first = _train(tmp_path / "one", data)
    (epoch,) = (data / "jax").rglob("jit__epoch*-cache")
    epoch.write_bytes(epoch.read_bytes()[:100])  # its writer killed half-way
    result = run_fcnn(*RUN, f"hydra.run.dir={tmp_path / 'two'}",
                      env={"FCNN_DATA_DIR": str(data), "JAX_COMPILATION_CACHE_DIR": ""})
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    assert (tmp_path / "two" / "model.npz").read_bytes() == first


def test_the_users_own_cache_directory_is_left_to_jax(tmp_path):
    own = tmp_path / "own"
    _train(tmp_path / "run", tmp_path / "data", JAX_COMPILATION_CACHE_DIR=str(own))
    assert not (tmp_path / "data" / "jax").exists()


def test_the_directory_names_this_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNN_DATA_DIR", str(tmp_path))
    tag = jax_cache.cpu_tag()
    assert tag == jax_cache.cpu_tag() and tag.startswith(os.uname().machine)
    assert jax_cache.cache_dir() == tmp_path / "jax" / tag


def test_the_bench_times_compiling_not_reading_the_cache(tmp_path):
    result = run_fcnn("bench", "repeats=2", "warmup=1", "dataset=digits", "backends=[jax]",
                      "predict_repeats=1", "floor_repeats=1", "floor_matmul_size=256",
                      f"hydra.run.dir={tmp_path / 'bench'}",
                      env={"FCNN_DATA_DIR": str(tmp_path / "data"), "JAX_COMPILATION_CACHE_DIR": ""})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "jax").exists()
