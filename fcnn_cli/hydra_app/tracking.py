"""Experiment tracking with MLflow (`logger=mlflow`): one MLflow run per fcnn run, one parent run
per sweep.

A run logs its config as parameters, its curves as metrics after every epoch (live, through the
loop's callbacks), and curves.png, curves.csv, metrics.json and model.npz as artifacts. A sweep's
runs go to one experiment, nested under a parent run and tagged with the sweep directory, so
MLflow's UI compares them side by side. The tracking URI defaults to a SQLite store in
outputs/mlflow/ (no server); `logger.tracking_uri=http://host:5000` logs to a server.

MLflow is an optional extra, imported only here and only when logger=mlflow.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback

from fcnn_cli.errors import Escalated, UsageError

if TYPE_CHECKING:
    from fcnn_cli.training.loop import EpochRecord

INSTALL_HINT = "pip install 'fcnn-cli[mlflow]'"
# The local store, relative to the directory fcnn runs in (outputs/ is already git-ignored).
LOCAL_STORE = Path("outputs") / "mlflow"
ARTIFACTS = ("curves.png", "curves.csv", "metrics.json", "model.npz")
# Logged per epoch, named as in curves.csv and metrics.json.
EPOCH_METRICS = ("train_loss", "train_acc", "test_acc", "val_acc", "test_loss", "val_loss", "lr",
                 "seconds")
FINAL_METRICS = ("fit_seconds", "compile_seconds", "predict_seconds", "epochs_completed")
SWEEP_TAG = "fcnn.sweep_dir"
ROLE_TAG = "fcnn.role"
# fcnn's run status -> MLflow's; a diverged run did finish (its status tag says it diverged).
RUN_STATUS = {"completed": "FINISHED", "diverged": "FINISHED", "interrupted": "KILLED"}
# Libraries that announce routine steps (database migrations) at INFO level on every run.
CHATTY_LOGGERS = ("mlflow", "alembic")


@dataclass(frozen=True)
class LoggerSettings:
    """The `logger` config group, checked."""

    tracking_uri: str
    experiment: str


def logger_settings(cfg: Any) -> LoggerSettings | None:
    """The tracking settings of a composed config; None for logger=none."""
    node = cfg.get("logger") or {}
    name = node.get("name", "none")
    if name in (None, "none"):
        return None
    if name != "mlflow":
        raise UsageError("logger", f"must be one of none, mlflow; got {name!r}")
    uri = node.get("tracking_uri")
    if uri is not None and (not isinstance(uri, str) or not uri.strip()):
        raise UsageError("logger.tracking_uri", f"must be a URI such as http://127.0.0.1:5000 or "
                                                f"sqlite:///path/mlflow.db, or null; got {uri!r}")
    experiment = node.get("experiment", "fcnn")
    if not isinstance(experiment, str) or not experiment.strip():
        raise UsageError("logger.experiment", f"must be a non-empty name; got {experiment!r}")
    return LoggerSettings(uri or default_tracking_uri(), experiment)


def default_tracking_uri() -> str:
    """The embedded store: a SQLite database in outputs/mlflow/ of the current directory."""
    return f"sqlite:///{(LOCAL_STORE / 'mlflow.db').resolve()}"


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise UsageError("logger", f"logger=mlflow needs MLflow, which is not installed; install it "
                                   f"with: {INSTALL_HINT}") from None
    return mlflow


def connect(settings: LoggerSettings) -> tuple[Any, str]:
    """An MlflowClient on the tracking URI and the id of the experiment (created if new)."""
    mlflow = _import_mlflow()
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    artifact_location = None
    if (db := _sqlite_path(settings.tracking_uri)) is not None:
        # Artifacts next to the database, not in ./mlruns of whatever directory a job runs in.
        db.parent.mkdir(parents=True, exist_ok=True)
        artifact_location = (db.parent / "artifacts").resolve().as_uri()
    client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return client, experiment.experiment_id
    try:
        return client, client.create_experiment(settings.experiment, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:
        # A parallel job created it first.
        experiment = client.get_experiment_by_name(settings.experiment)
        if experiment is None:
            raise
        return client, experiment.experiment_id


def _config_params(cfg: Any) -> dict[str, str]:
    from omegaconf import OmegaConf

    from fcnn_cli.runs.record import flat_config

    container = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    flat = flat_config({k: v for k, v in container.items() if k not in ("logger", "hydra")})
    return {key: str(list(v)) if isinstance(v, list | tuple) else str(v) for key, v in flat.items()}


def _sweep_context(run_dir: Path) -> tuple[Path | None, str]:
    """(the sweep directory when this run is a sweep's job, else None; a name for the run)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, run_dir.name
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None, run_dir.name
    # The job's own overrides name it in MLflow's run list; switches that change no result do not.
    shown = [str(o) for o in hydra.overrides.task
             if str(o).split("=")[0].lstrip("+~") not in ("logger", "progress", "plot")]
    return Path(str(hydra.sweep.dir)).resolve(), f"#{hydra.job.num} {' '.join(shown)}".strip()


def _sweep_filter(sweep_dir: Path) -> str:
    return f"tags.`{SWEEP_TAG}` = '{sweep_dir}' and tags.`{ROLE_TAG}` = 'sweep'"


class RunTracker:
    """One fcnn run as an MLflow run: the loop's epoch callback, then `finish` with the outputs."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.open = True
        # A run that raises before `finish` must not stay RUNNING in MLflow forever.
        atexit.register(self._end_if_open)

    def on_train_start(self, backend: Any, state: Any) -> None:
        """A resumed run: log the epochs it did before, so this MLflow run has all its curves."""
        for record in state.history.records:
            self.on_epoch_end(record)

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Log the epoch's curves at step = epoch, so MLflow draws them while the run trains."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = {key: getattr(record, key) for key in EPOCH_METRICS}
        metrics = [Metric(key, float(value), now, record.epoch)
                   for key, value in values.items() if value is not None]
        self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)

    def finish(self, metrics: dict[str, Any], run_dir: Path) -> None:
        """Log the final numbers, the run's files as artifacts, and end the MLflow run."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        final = [Metric(key, float(metrics[key]), now, 0) for key in FINAL_METRICS
                 if isinstance(metrics.get(key), int | float) and math.isfinite(metrics[key])]
        tags = {"fcnn.status": str(metrics.get("status")), "fcnn.device": str(metrics.get("device"))}
        self.client.log_batch(self.run_id, metrics=final, synchronous=True)
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)
        for name in ARTIFACTS:
            if (run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(run_dir / name))
        self.end(RUN_STATUS.get(str(metrics.get("status")), "FAILED"))

    def end(self, status: str) -> None:
        if self.open:
            self.open = False
            self.client.set_terminated(self.run_id, status)

    def _end_if_open(self) -> None:
        # At exit a tracking server may be gone already; there is nothing left to do then.
        with contextlib.suppress(Exception):
            self.end("FAILED")


def start(cfg: Any, run_dir: Path) -> RunTracker | None:
    """Open the MLflow run of one fcnn run (None for logger=none) and log its config as params.

    A sweep's job is nested under the sweep's parent run (opened by SweepCallback).
    """
    settings = logger_settings(cfg)
    if settings is None:
        return None
    client, experiment_id = connect(settings)  # first: a one-line error without MLflow
    from mlflow.entities import Param

    sweep_dir, name = _sweep_context(run_dir)
    tags = {"fcnn.run_dir": str(run_dir.resolve()), ROLE_TAG: "run"}
    if sweep_dir is not None:
        tags[SWEEP_TAG] = str(sweep_dir)
        parents = client.search_runs([experiment_id], _sweep_filter(sweep_dir), max_results=1)
        if parents:
            tags["mlflow.parentRunId"] = parents[0].info.run_id
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    params = [Param(key, value) for key, value in _config_params(cfg).items()]
    for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run.info.run_id, params=params[i:i + 100], synchronous=True)
    return RunTracker(client, run.info.run_id)


def end_dead_run(cfg: Any, run_dir: Path, status: str = "KILLED") -> None:
    """End, with `status`, the MLflow run of a job that died without ending it (a SLURM job
    cancelled or timed out), so the UI does not show it running forever. No-op for logger=none."""
    settings = logger_settings(cfg)
    if settings is None:
        return
    client, experiment_id = connect(settings)
    for run in client.search_runs([experiment_id], f"tags.`fcnn.run_dir` = '{run_dir.resolve()}' "
                                                   f"and attributes.status = 'RUNNING'"):
        client.set_terminated(run.info.run_id, status)


class SweepCallback(Callback):
    """Hydra callback (with logger=mlflow): a parent run for a sweep, opened before its jobs start
    (which also creates a new local store once, not in every parallel job at once) and ended with
    the sweep, with Optuna's result attached."""

    def __init__(self) -> None:
        self.parent: RunTracker | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        try:
            settings = logger_settings(config)
            if settings is None:
                return
            client, experiment_id = connect(settings)
        except UsageError as err:  # past Hydra, which would make a callback's error a warning
            raise Escalated(err) from None
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        overrides = " ".join(str(o) for o in config.hydra.overrides.task)
        run = client.create_run(experiment_id, run_name=f"sweep {sweep_dir.name}",
                                tags={SWEEP_TAG: str(sweep_dir), ROLE_TAG: "sweep",
                                      "fcnn.sweeper": str(config.hydra.sweeper.get("_target_")),
                                      "fcnn.overrides": overrides})
        # A sweep that ends in an error (a failed job) never reaches on_multirun_end: the parent
        # run then ends as FAILED when this process exits.
        self.parent = RunTracker(client, run.info.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self.parent is None:
            return
        results = Path(str(config.hydra.sweep.dir)) / "optimization_results.yaml"
        if results.is_file():
            self.parent.client.log_artifact(self.parent.run_id, str(results))
        self.parent.end("FINISHED")
