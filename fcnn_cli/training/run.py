"""One run, from checked settings to a filled run directory: data, task, fit, score, files and
the metrics record, in that order. No Hydra: `fcnn train` (fcnn_cli.hydra_app.job), the Python
API and the tests call it alike; `FCNNClassifier` shares its training (fcnn_cli.training.fit).

A run directory ends with metrics.json, written last (its presence marks a finished run). The
checkpoint is written after an epoch when the last is `checkpoint.every_s` old, and after the
first and the last (fcnn_cli.training.checkpoint.Checkpointer).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fcnn_cli.errors import Interrupted, MachineFault, UsageError

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.runs.layout import RunDir
    from fcnn_cli.training.interrupt import SignalGuard
    from fcnn_cli.training.loop import EpochCallback, EpochRecord
    from fcnn_cli.training.progress import Display


#: The run's own log: settings, epochs, result (INFO reaches the run's train.log under the CLI,
#: conf/hydra/job_logging/fcnn.yaml, and not the terminal).
log = logging.getLogger("fcnn.run")


class Tracker(Protocol):
    """An epoch callback that also hears of the finished run (the MLflow tracker)."""

    def on_train_start(self, backend: Any, state: Any) -> None: ...

    def on_epoch_end(self, record: EpochRecord) -> None: ...

    def finish(self, metrics: dict[str, Any], run_dir: Path) -> None: ...


def train(s: Settings, run_dir: Path, *, resume: bool = False, guard: SignalGuard | None = None,
          callbacks: Sequence[EpochCallback] = (),
          trackers: Sequence[Callable[[Path], Tracker | None]] = (),
          title: str | None = None) -> dict[str, Any]:
    """Train a run with the checked settings `s` in `run_dir` (made if missing) and return its
    metrics (metrics.json).

    resume: go on from the checkpoint in `run_dir` (fcnn_cli.training.resume says when it may).
    guard: the process's signal guard: a signal during setup raises Interrupted at once; during
    training it stops the run after its epoch, saved as `interrupted`.
    callbacks: shown every epoch (fcnn_cli.training.loop.EpochCallback).
    trackers: each called with `run_dir` once every check has passed, before the first epoch;
    what it returns (if not None) is a callback that also gets `finish(metrics, run_dir)`.
    title: the experiment's name, for the figure's title.

    Bad input raises UsageError before any training; a full disk or a read-only file system
    while writing the run's files raises MachineFault (its checkpoint is intact).
    """
    from fcnn_cli.runs import layout
    from fcnn_cli.training import faults
    from fcnn_cli.training.progress import Display

    run_dir.mkdir(parents=True, exist_ok=True)
    out = layout.RunDir(run_dir)
    with out.hold() as held:
        if not held:
            raise UsageError("resume", f"{run_dir} is being trained by another fcnn train right "
                                       "now; resume it once that has ended")
        display = Display()  # the status line, on once the settings say progress=true
        try:
            return _train(s, out, resume, guard, callbacks, trackers, title, display)
        except OSError as err:
            if not faults.is_fault(err):
                raise
            raise MachineFault(faults.message(err, run_dir)) from err
        finally:
            display.clear()


def _train(s: Settings, out: RunDir, resume: bool, guard: SignalGuard | None,
           callbacks: Sequence[EpochCallback], trackers: Sequence[Callable[[Path], Any]],
           title: str | None, display: Display) -> dict[str, Any]:
    """`train` once the directory is held: setup (where a signal abandons the run), fit, then
    the run's files."""
    from fcnn_cli.core import tasks
    from fcnn_cli.data import datasets
    from fcnn_cli.training import checkpoint, probe
    from fcnn_cli.training.fit import fit
    from fcnn_cli.training.objective import objective_metric, resolve_objective
    from fcnn_cli.training.resume import check_belongs, resume_point, resuming_line

    run_dir = out.path
    saved = None
    with guard.setup() if guard is not None else contextlib.nullcontext():
        display.enabled = s.progress
        if resume:
            saved = resume_point(out, s)  # before the data: a refusal costs nothing
        data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes,
                             status=display.status)
        task = tasks.create(s, data)  # the checks that need the data, still before any training
        objective_name = resolve_objective(s.objective, task)
        probe_layer = probe.check(s.probe, task, data) if s.probe else None
        identity = checkpoint.run_record(s, data)
        if saved is not None:
            check_belongs(saved, identity, run_dir)
            display.note(resuming_line(run_dir, saved.epoch, s.max_epochs))
        started = [t for t in (make(run_dir) for make in trackers) if t is not None]
    checkpointer = checkpoint.Checkpointer(out.checkpoint, identity, every_s=s.checkpoint_every_s)
    log.info("run %s: %s", run_dir, _settings_line(s))
    try:
        with _heard_above_the_bar(guard, display):
            backend, history = fit(s, data, [*callbacks, *started, checkpointer, _EpochLog()],
                                   resume=saved, stop=guard.requested if guard is not None else None,
                                   display=display)
    except checkpoint.CheckpointError as err:
        raise UsageError("resume", f"{err}; it cannot be resumed") from None
    if not history.records:  # stopped before a first epoch ended: nothing to keep
        raise Interrupted((guard.signum if guard is not None else None) or signal.SIGINT)

    display.status("scoring the test set and writing the run's files")
    predict_seconds = _predict_seconds(backend, data.x_test)
    metrics = _record(s, backend, task.name, data, history, checkpointer.seconds, predict_seconds,
                      None if saved is None else saved.epoch)
    _write_files(s, out, backend, task, data, history, metrics, title)
    if s.probe is not None and history.status == "completed":
        features = probe.hidden_features(backend.get_params(), s.activation, probe_layer)
        probe_metrics, probe_history = probe.run(s.probe, s, data, features, probe_layer)
        metrics.update(probe_metrics)
        from fcnn_cli.runs import curves

        curves.write_curves(out.probe_curves, probe_history.rows())
    # What a sweeper reads: the objective asked for, what it was measured on (val_acc, or
    # train_acc without a validation set) and its value (null unless the run completed).
    metrics["objective"] = objective_name
    metrics["objective_measured_on"], metrics["objective_value"] = objective_metric(metrics)
    out.write_metrics(metrics)  # last: its presence marks a finished run
    log.info("%s after %d epochs: %s", metrics["status"], metrics["epochs_completed"],
             ", ".join(f"{key} {metrics[key]:.6g}" for key in ("train_loss", "train_acc", "val_acc",
                                                             "test_acc", "test_loss")
                       if isinstance(metrics.get(key), float)))
    for tracker in started:
        tracker.finish(metrics, run_dir)
    return metrics


def _predict_seconds(backend: Any, x: Any) -> float:
    """Seconds to score `x` once compiled (JIT backends compile on the first call)."""
    backend.predict(x)
    start = time.perf_counter()
    backend.predict(x)
    return time.perf_counter() - start


def _record(s: Settings, backend: Any, task: str, data: Any, history: Any, checkpoint_seconds: float,
            predict_seconds: float, resumed_from: int | None) -> dict[str, Any]:
    from fcnn_cli.backends import threads
    from fcnn_cli.runs import record

    return record.metrics(
        s, task=task, device=backend.device, data=data, history=history,
        seconds={"fit_seconds": history.fit_seconds, "compile_seconds": backend.compile_seconds,
                 "predict_seconds": predict_seconds, "checkpoint_seconds": checkpoint_seconds},
        resumed_from=resumed_from, machine=threads.describe(s.threads))


def _write_files(s: Settings, out: RunDir, backend: Any, task: Any, data: Any, history: Any,
                 metrics: dict[str, Any], title: str | None) -> None:
    """model.npz, curves.csv, and the figures (with plot=true)."""
    from fcnn_cli.runs import curves, figures, model_file
    from fcnn_cli.training.fit import saved_model

    rows = history.rows()
    model_file.save_model(out.model, saved_model(s, data, task.name, backend.get_params()))
    curves.write_curves(out.curves, rows, task.curve_columns)
    if s.plot:
        heading = figures.curves_title(metrics, title)
        figures.plot_curves(out.plot, rows, heading, task.curve_columns, task.loss_label)
        figures.write_task_figures(out.path, task.figures, backend.predict, data.x_test)


def _settings_line(s: Settings) -> str:
    """The settings as one line of `key=value`, as a command line would set them."""
    from dataclasses import asdict

    return " ".join(f"{key}={value}" for key, value in asdict(s).items()
                    if key not in ("progress", "backend_options"))


class _EpochLog:
    """Each epoch's record, as one line of the run's log."""

    def on_epoch_end(self, record: EpochRecord) -> None:
        scores = ", ".join(f"{key} {value:.6g}" for key, value in vars(record).items()
                           if key not in ("epoch", "seconds") and isinstance(value, float))
        log.info("epoch %d: %s (%.1f s)", record.epoch, scores, record.seconds)


@contextlib.contextmanager
def _heard_above_the_bar(guard: SignalGuard | None, display: Display) -> Iterator[None]:
    """While training, what the guard says at the first signal goes above the progress bar
    (through its console), and the terminal does not echo `^C`: each echo pushed the bar down a
    line, leaving a frozen copy of it per Ctrl-C."""
    if guard is None or not display.live:
        yield
        return
    before = guard.say
    guard.say = lambda line: display.console.print(line, markup=False, highlight=False,
                                                   soft_wrap=True)
    try:
        with _no_echo_of_control_keys():
            yield
    finally:
        guard.say = before


@contextlib.contextmanager
def _no_echo_of_control_keys() -> Iterator[None]:
    """The terminal's ECHOCTL off (as `stty -echoctl`), put back afterwards; nothing where stdin
    is no terminal (or one that refuses)."""
    import sys

    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        quiet = list(saved)
        quiet[3] &= ~termios.ECHOCTL
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except Exception:  # noqa: BLE001 - no termios, no stdin, not a terminal: nothing to quiet
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
