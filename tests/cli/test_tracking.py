"""Experiment tracking with MLflow (`logger=mlflow`), read back with MLflow's own client: a run's
config, per-epoch curves and files; a sweep's runs under one parent run, from parallel jobs; a
real `mlflow server`; and the one-line error without MLflow. The loop's epoch callbacks and a
resumed run's tracker, in process: tests/unit/test_run_tracker.py."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import NUMPY_FAST, read_metrics, run_fcnn, train_here

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'fcnn-cli[mlflow]')")


def _client(uri: str):
    return mlflow.MlflowClient(tracking_uri=uri)


def _runs(client, experiment: str = "fcnn") -> list:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return client.search_runs([found.experiment_id], max_results=1000)


def _curves(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "curves.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture
def no_mlflow(tmp_path) -> dict[str, str]:
    """An environment where `import mlflow` fails, as where the extra is not installed."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "mlflow.py").write_text("raise ImportError(\"No module named 'mlflow'\")\n")
    return {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One working directory (so one local store) for the tests that use the default store:
    creating a new store (its database schema) is the slow part of a first run."""
    return tmp_path_factory.mktemp("tracking")


def test_run_logs_config_curves_and_files_to_the_local_store(workdir):
    tmp_path = workdir
    proc = train_here("logger=mlflow", *NUMPY_FAST, "lr=0.2", "hydra.run.dir=run",
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "alembic" not in proc.stderr and "Traceback" not in proc.stderr
    run_dir = tmp_path / "run"
    store = tmp_path / "outputs" / "mlflow"  # the default: an embedded SQLite store, no server
    client = _client(f"sqlite:///{store / 'mlflow.db'}")
    (run,) = _runs(client)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["lr"] == "0.2" and params["struct"] == "[32]" and params["backend.name"] == "numpy"
    assert params["dataset.name"] == "digits" and params["max_epochs"] == "3"
    assert "logger.name" not in params
    assert run.data.tags["fcnn.status"] == "completed"
    assert run.data.tags["fcnn.run_dir"] == str(run_dir.resolve())
    # Curves per epoch, equal to curves.csv; logged during training, before the files existed.
    curves = _curves(run_dir)
    for key in ("train_loss", "train_acc", "test_acc", "lr"):
        history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [1, 2, 3]
        assert [m.value for m in history] == pytest.approx([row[key] for row in curves])
    first_epoch = min(client.get_metric_history(run.info.run_id, "test_acc"), key=lambda m: m.step)
    assert first_epoch.timestamp <= (run_dir / "curves.csv").stat().st_mtime * 1000
    # The run's files as artifacts, in the store's own artifact directory.
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
        "curves.png", "curves.csv", "metrics.json", "model.npz"}
    local = Path(client.download_artifacts(run.info.run_id, "metrics.json", str(tmp_path / "dl")))
    assert json.loads(local.read_text()) == read_metrics(run_dir)
    assert str(store / "artifacts") in run.info.artifact_uri


def test_parallel_sweep_runs_nest_under_one_parent_run(workdir):
    tmp_path = workdir
    sweep_dir = tmp_path / "sweep"
    proc = run_fcnn("train", "-m", "logger=mlflow", "logger.experiment=lr-sweep",
                    "hydra/launcher=local", "hydra.launcher.n_jobs=2", *NUMPY_FAST,
                    "lr=0.05,0.1,0.2", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = _runs(_client(f"sqlite:///{tmp_path / 'outputs' / 'mlflow' / 'mlflow.db'}"), "lr-sweep")
    parents = [r for r in runs if r.data.tags.get("fcnn.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("fcnn.role") == "run"]
    assert len(parents) == 1 and len(children) == 3
    (parent,) = parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["fcnn.sweep_dir"] == str(sweep_dir.resolve())
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["fcnn.sweep_dir"] == str(sweep_dir.resolve())
        assert child.info.status == "FINISHED"
    by_lr = {child.data.params["lr"]: child for child in children}
    assert set(by_lr) == {"0.05", "0.1", "0.2"}
    for run_dir in sweep_dir.iterdir():
        if run_dir.name.isdigit():  # each run's final test accuracy, as metrics.json says
            metrics = read_metrics(run_dir)
            assert by_lr[str(metrics["lr"])].data.metrics["test_acc"] == pytest.approx(metrics["test_acc"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend; yields its URL."""
    port = _free_port()
    root = tmp_path / "server"
    root.mkdir()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
         "--artifacts-destination", str(root / "artifacts")],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # a cold start on two busy cores takes a minute or more
    try:
        while True:
            assert server.poll() is None, (root / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not answer in 240 s"
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_sweep_logs_to_a_real_mlflow_server(mlflow_server, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_fcnn("train", "-m", "logger=mlflow", f"logger.tracking_uri={mlflow_server}",
                    *NUMPY_FAST, "lr=0.05,0.2", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "outputs" / "mlflow").exists()  # nothing went to the local store
    client = _client(mlflow_server)
    runs = _runs(client)
    children = [r for r in runs if r.data.tags.get("fcnn.role") == "run"]
    (parent,) = [r for r in runs if r.data.tags.get("fcnn.role") == "sweep"]
    assert len(children) == 2
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert len(client.get_metric_history(child.info.run_id, "train_loss")) == 3
        # Artifacts went through the server, which stores them in its own destination.
        assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"model.npz", "curves.png"}


def test_without_mlflow_logger_mlflow_is_one_line(no_mlflow, tmp_path):
    for args in (("train", "logger=mlflow", "hydra.run.dir=run"),
                 ("train", "-m", "logger=mlflow", "lr=0.1,0.2", "hydra.sweep.dir=sweep")):
        proc = run_fcnn(*args, *NUMPY_FAST, cwd=tmp_path, env=no_mlflow)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "logger" in lines[0] and "pip install 'fcnn-cli[mlflow]'" in lines[0]
    assert not (tmp_path / "sweep" / "0" / "metrics.json").exists()


def test_default_logger_never_imports_mlflow(no_mlflow, tmp_path):
    # With `import mlflow` failing, runs, sweeps, --help and report all work: nothing imports it.
    proc = run_fcnn("train", *NUMPY_FAST, "hydra.run.dir=run", cwd=tmp_path, env=no_mlflow)
    assert proc.returncode == 0, proc.stderr
    assert run_fcnn("report", "run", cwd=tmp_path, env=no_mlflow).returncode == 0
    code = ("import sys\nfrom fcnn_cli import cli\n"
            "from fcnn_cli.commands import train\nfrom fcnn_cli.hydra_app import tracking\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("override, key", [
    ("logger.experiment=''", "logger.experiment"),
    ("logger.tracking_uri=''", "logger.tracking_uri"),
])
def test_bad_logger_settings_are_one_line(override, key, tmp_path):
    proc = train_here("logger=mlflow", override, *NUMPY_FAST, "hydra.run.dir=run", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"fcnn: error: {key}:")


def test_a_refused_in_process_run_leaves_no_handler_on_its_removed_directory(tmp_path):
    """train_here (the CLI in this process) puts logging back as it found it: a refused run's
    directory is removed, and a handler left on its log made the next test in the same worker
    that logs fail with FileNotFoundError (CI, 2026-12-06: grimp's logger, notebook kernels)."""
    import logging

    before = list(logging.getLogger().handlers)
    proc = train_here("logger=mlflow", "logger.experiment=''", *NUMPY_FAST, "hydra.run.dir=run",
                      cwd=tmp_path)
    assert proc.returncode == 2 and not (tmp_path / "run").exists()
    assert logging.getLogger().handlers == before
    logging.getLogger("grimp").warning("a later library's line")
