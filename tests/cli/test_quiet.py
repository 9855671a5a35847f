"""A quiet terminal: what libraries log in a normal run goes to the run's log file, not the
terminal; a warning the user can act on reaches the terminal in one line. The filter of Hydra's
chatter, in process: tests/unit/test_quiet_filter.py."""

from __future__ import annotations

import subprocess
import sys

from helpers import NUMPY_FAST, REPO, run_fcnn, train_output


def test_first_run_prints_only_its_result(tmp_path):
    """A fresh MPLCONFIGDIR makes matplotlib build its font cache and log so (at INFO)."""
    run_dir = tmp_path / "run"
    result = run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={run_dir}",
                      env={"MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert result.returncode == 0, result.stderr
    (line,) = train_output(result.stdout)  # and at most the next step after it
    assert line.startswith("test accuracy ") and line.endswith(f"run directory {run_dir}")
    assert result.stderr == ""
    # The line was logged, to the run's log file.
    assert "generated new fontManager" in (run_dir / "train.log").read_text()


def test_an_actionable_warning_is_one_line(tmp_path):
    """matplotlib cannot write its config directory (a path below a file): it says so, and
    how to fix it, one line for each thing it warns about."""
    (tmp_path / "file").write_text("")
    result = run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={tmp_path / 'run'}",
                      env={"MPLCONFIGDIR": str(tmp_path / "file" / "mpl")})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("warning: matplotlib: ") for line in lines), lines
    assert any("set the MPLCONFIGDIR environment variable" in line for line in lines)
    assert len(train_output(result.stdout)) == 1


def test_python_warnings_and_library_logs_through_the_run_logging(tmp_path):
    """fcnn's job logging config as Hydra applies it: a multi-line Python warning and a
    library's warning become one terminal line each; INFO goes to the file only."""
    code = f"""
import logging, logging.config, warnings
from omegaconf import OmegaConf
from fcnn_cli.hydra_app import quiet
cfg = OmegaConf.load({str(REPO / 'conf/hydra/job_logging/fcnn.yaml')!r})
cfg.handlers.file.filename = {str(tmp_path / 'run.log')!r}
logging.config.dictConfig(OmegaConf.to_container(cfg))
quiet.setup()
warnings.warn("the first line\\nand a second line", UserWarning)
logging.getLogger("jax._src.xla_bridge").warning("An NVIDIA GPU may be present\\nmore detail")
logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("fcnn").exception("it broke")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        "warning: UserWarning: the first line (<string>:9)",
        "warning: jax: An NVIDIA GPU may be present",
        "error: fcnn: it broke",
    ]
    log = (tmp_path / "run.log").read_text()
    assert "generated new fontManager" in log and "ZeroDivisionError" in log  # all of it


def test_sweep_prints_its_jobs_without_plugin_chatter(tmp_path):
    """An Optuna sweep: the jobs and the best value, no study set-up lines from Optuna or the
    sweeper plugin."""
    result = run_fcnn("train", "hparams_search=optuna", "hydra.sweeper.n_trials=2", *NUMPY_FAST,
                      "max_epochs=1", "plot=false", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert "#0 :" in text and "#1 :" in text and "Best value" in text
    for noise in ("A new study created", "Storage:", "Sampler:", "Directions:"):
        assert noise not in text
    assert result.stderr == ""
