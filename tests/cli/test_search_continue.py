"""An Optuna search keeps its study in its sweep directory (optuna.db), so a search whose process
was killed continues with `fcnn train -m resume=SWEEP_DIR` to its n_trials: the trials told are
kept, the one running resumes from its checkpoint, the sampler asks for the rest; `fcnn report`
reads the study, also before the search has written its results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import REPO, read_metrics, run_fcnn

pytestmark = [pytest.mark.slow,
              # Optuna 2's storage under SQLAlchemy 2: its deprecation warnings, not ours to fix.
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SEARCH = ("train", "hparams_search=optuna", "hydra.sweeper.n_trials=4", "backend=numpy",
          "dataset=digits", "max_epochs=40", "progress=false", "plot=false",
          "checkpoint.every_s=0")


def _trials(sweep_dir) -> list[tuple[int, str, dict]]:
    import optuna

    from fcnn_cli.hydra_app.sweeps.search import sqlalchemy2_compat

    sqlalchemy2_compat()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="fcnn", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")
    return [(t.number, t.state.name, t.params) for t in study.trials]


@pytest.fixture(scope="module")
def killed_search(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("search") / "search"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "fcnn_cli", *SEARCH, f"hydra.sweep.dir={sweep_dir}"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (sweep_dir / "2" / "checkpoint.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "trial 2 never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the whole search dies, trial 2 in the middle of training
    proc.wait()
    return sweep_dir


def test_a_killed_search_continues_its_study_to_n_trials(killed_search):
    sweep_dir = killed_search
    before = _trials(sweep_dir)
    assert [state for _, state, _ in before] == ["COMPLETE", "COMPLETE", "RUNNING"]
    assert not (sweep_dir / "optimization_results.yaml").exists()
    report = run_fcnn("report", str(sweep_dir))  # the study so far, from optuna.db
    assert report.returncode == 0, report.stderr
    assert f"Optuna study in {sweep_dir}: best value" in " ".join(report.stdout.split())
    kept = {p: p.stat().st_mtime for job in ("0", "1") for p in (sweep_dir / job).rglob("*")
            if p.is_file()}

    result = run_fcnn("train", "-m", f"resume={sweep_dir}", "hydra/launcher=local")
    assert result.returncode == 0, result.stderr
    assert "continued: 2 jobs kept, 1 resumed, 0 rerun" in result.stdout
    after = _trials(sweep_dir)
    assert [(n, state) for n, state, _ in after] == [(n, "COMPLETE") for n in range(4)]
    assert [params for _, _, params in after[:3]] == [params for _, _, params in before]
    # The sampler goes on: the new trial does not repeat the first ones' points.
    assert all(after[3][2] != after[m][2] for m in (0, 1))
    assert read_metrics(sweep_dir / "2")["resumed_from_epoch"] is not None
    assert {p: p.stat().st_mtime for p in kept} == kept
    assert (sweep_dir / "optimization_results.yaml").is_file()
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == list("0123")


def test_a_search_without_storage_cannot_be_continued(tmp_path):
    sweep_dir = tmp_path / "search"
    done = run_fcnn("train", "hparams_search=optuna", "hydra.sweeper.n_trials=1", "backend=numpy",
                    "dataset=digits", "max_epochs=1", "progress=false", "plot=false",
                    "hydra.sweeper.storage=null", f"hydra.sweep.dir={sweep_dir}")
    assert done.returncode == 0, done.stderr
    result = run_fcnn("train", "-m", f"resume={sweep_dir}")
    assert result.returncode == 2
    assert "study was kept in memory" in result.stderr
