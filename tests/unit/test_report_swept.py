"""`fcnn report` on runs that differ in keys no fixed column shows (an Optuna search over
`dropout.hidden` and `augment.shift`): each such key becomes a column headed by the key, a key the
runs share does not, and --sort, --columns, --group-by and report.csv take them; in process, on
run directories made here. The column layout in general: tests/unit/test_report_columns.py."""

from __future__ import annotations

import csv
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from fcnn_cli.commands.report.collect import Run, read_run
from fcnn_cli.commands.report.columns import choose, header_lines
from fcnn_cli.commands.report.swept import settings_of, shown_keys, swept_keys

# (run, dropout.hidden, augment.shift, seed, test accuracy)
TRIALS = [("0", 0.3105, 0, 1, 0.91), ("1", 0.14343, 1, 1, 0.95), ("2", 0.52, 0, 1, 0.93)]


def _fake_run(path: Path, *, dropout: float, shift: int, seed: int, test_acc: float,
              **extra) -> Path:
    """A run directory as `fcnn train` leaves it: .hydra/config.yaml and metrics.json."""
    config = {"struct": [32], "activation": "relu", "init_range": 1.0, "dtype": "float32",
              "val_fraction": 0.0, "lr": 0.1, "annealing": 0.9, "batch_size": 16,
              "max_epochs": 3, "seed": seed, "dropout": {"hidden": dropout, "input": 0.2},
              "augment": {"shift": shift}, "progress": False, "checkpoint": {"every_s": 5.0},
              "probe": {"layer": None, "lr": 0.1}, "backend": {"name": "numpy"},
              "dataset": {"name": "digits"}, "optimizer": {"name": "sgd", "momentum": 0.0},
              "task": {"name": "classify"}, **extra}
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    metrics = {"backend": "numpy", "dataset": "digits", "struct": [32], "optimizer": "sgd",
               "lr": 0.1, "annealing": 0.9, "batch_size": 16, "max_epochs": 3, "seed": seed,
               "status": "completed", "epochs_completed": 3, "train_acc": test_acc + 0.01,
               "val_acc": None, "test_acc": test_acc, "fit_seconds": 1.0}
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


@pytest.fixture
def search(tmp_path) -> Path:
    """Three trials differing in dropout.hidden and augment.shift; activation, dropout.input and
    the seed shared; checkpoint.every_s and progress (which change no result) differing."""
    root = tmp_path / "search"
    for i, (name, dropout, shift, seed, acc) in enumerate(TRIALS):
        _fake_run(root / name, dropout=dropout, shift=shift, seed=seed, test_acc=acc,
                  checkpoint={"every_s": 5.0 + i}, progress=i % 2 == 0)
    return root


def _report(fcnn_here, monkeypatch, *args: str, width: int = 200):
    monkeypatch.setenv("COLUMNS", str(width))
    return fcnn_here("report", *args, "--no-plot")


def _csv(directory: Path) -> list[dict[str, str]]:
    with open(directory / "report.csv", newline="") as f:
        return list(csv.DictReader(f))


def _table(out: str) -> tuple[list[str], list[str]]:
    """The printed lines above the table's rule (the title, then the header), and the rows below
    it, up to the notes."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("──"))
    rows = list(itertools.takewhile(
        lambda line: line.strip() and not line.startswith(("left out", "wrote", "* ", "accur")),
        lines[rule + 1:]))
    return lines[:rule], rows


def _headers(out: str) -> list[str]:
    """The header's cells, on the line above the rule, split at runs of two spaces."""
    above, _ = _table(out)
    return [h for h in re.split(r"\s{2,}", above[-1].strip()) if h]


def _column(out: str, key: str) -> dict[str, str]:
    """Each row's cell in the column headed `key`, right-aligned: ending where its header ends
    (a cell that does not, "" here)."""
    above, rows = _table(out)
    end = above[-1].index(key) + len(key)
    return {row.split()[0]: "" if row[end - 1] == " " else row[:end].split()[-1] for row in rows}


def test_the_keys_the_runs_differ_in_are_columns_headed_by_the_key(search, fcnn_here,
                                                                   monkeypatch):
    proc = _report(fcnn_here, monkeypatch, str(search))
    assert proc.returncode == 0, proc.stderr
    headers = _headers(proc.stdout)
    assert {"dropout.hidden", "augment.shift"} <= set(headers), proc.stdout
    # Shared, covered by a fixed column, or changing no result: no column of their own.
    for key in ("activation", "dropout.input", "seed", "optimizer.momentum", "checkpoint.every_s",
                "progress", "probe.lr", "probe.layer", "max_epochs"):
        assert key not in headers, key
    # After the fixed settings, before the accuracies' and status columns; in config order.
    assert headers.index("dropout.hidden") < headers.index("augment.shift") < headers.index(
        "test %")
    # Numbers compactly (4 significant digits, like lr), right-aligned under their header.
    assert _column(proc.stdout, "dropout.hidden") == {"0": "0.3105", "1": "0.1434", "2": "0.52"}
    assert _column(proc.stdout, "augment.shift") == {"0": "0", "1": "1", "2": "0"}


def test_report_csv_and_md_keep_the_columns(search, fcnn_here, monkeypatch):
    assert _report(fcnn_here, monkeypatch, str(search), width=40).returncode == 0
    rows = _csv(search)
    assert [r["dropout.hidden"] for r in rows] == ["0.3105", "0.14343", "0.52"]  # raw values
    assert [r["augment.shift"] for r in rows] == ["0", "1", "0"]
    assert "activation" not in rows[0] and "dropout.input" not in rows[0]
    md = (search / "report.md").read_text()
    assert "| dropout.hidden |" in md and "| 0.1434 |" in md


def test_sort_by_a_swept_key(search, fcnn_here, monkeypatch):
    proc = _report(fcnn_here, monkeypatch, str(search), "--sort", "dropout.hidden")
    assert proc.returncode == 0, proc.stderr
    assert [r["run"] for r in _csv(search)] == ["1", "0", "2"]  # ascending: 0.1434, 0.3105, 0.52
    proc = _report(fcnn_here, monkeypatch, str(search), "--sort", "dropout.hidden", "--reverse")
    assert [r["run"] for r in _csv(search)] == ["2", "0", "1"]
    # The sorted column is shown at any width.
    narrow = _report(fcnn_here, monkeypatch, str(search), "--sort", "augment.shift", width=40)
    assert narrow.returncode == 0, narrow.stderr
    assert _column(narrow.stdout, "shift") == {"0": "0", "1": "1", "2": "0"}


def test_columns_picks_a_swept_key(search, fcnn_here, monkeypatch):
    proc = _report(fcnn_here, monkeypatch, str(search), "--columns", "run,dropout.hidden,test_acc")
    assert proc.returncode == 0, proc.stderr
    assert _headers(proc.stdout) == ["run", "dropout.hidden", "test %"]
    # A key the runs share is a column when asked for by name.
    proc = _report(fcnn_here, monkeypatch, str(search), "--columns", "run,activation")
    assert proc.returncode == 0, proc.stderr
    assert _headers(proc.stdout) == ["run", "activation"] and "relu" in proc.stdout


@pytest.mark.parametrize(("args", "fragments"), [
    (["--sort", "dropuot.hidden"],
     ("--sort: unknown column 'dropuot.hidden'", "did you mean dropout.hidden?",
      "choose one of run, backend,", "or a config key (the runs differ in dropout.hidden, "
                                     "augment.shift)")),
    (["--columns", "run,augment.shfit"],
     ("--columns: unknown column 'augment.shfit'", "did you mean augment.shift?",
      "choose from run,")),
    (["--sort", "progress"], ("--sort: unknown column 'progress'",)),
])
def test_a_wrong_name_is_refused_in_one_line(search, fcnn_here, monkeypatch, args, fragments):
    proc = _report(fcnn_here, monkeypatch, str(search), *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fcnn: error: report:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_group_by_seed_keeps_the_keys_that_differ_between_groups(tmp_path, fcnn_here,
                                                                  monkeypatch):
    for name, dropout, shift, _, acc in TRIALS[:2]:
        for seed in (1, 2):
            _fake_run(tmp_path / f"{name}-{seed}", dropout=dropout, shift=shift, seed=seed,
                      test_acc=acc + seed / 100)
    plain = _report(fcnn_here, monkeypatch, str(tmp_path))
    assert "seed" in _headers(plain.stdout)  # a setting the runs differ in
    proc = _report(fcnn_here, monkeypatch, str(tmp_path), "--group-by", "seed", "--sort",
                   "dropout.hidden")
    assert proc.returncode == 0, proc.stderr
    headers = _headers(proc.stdout)
    assert headers.count("seed") == 1 and {"dropout.hidden", "augment.shift", "n"} <= set(headers)
    rows = _csv(tmp_path)
    assert [(r["run"], r["seed"], r["n"], r["dropout.hidden"], r["augment.shift"])
            for r in rows] == [("1-1,1-2", "1,2", "2", "0.14343", "1"),
                               ("0-1,0-2", "1,2", "2", "0.3105", "0")]
    assert "96.50 ± 0.71" in proc.stdout and "0.1434" in proc.stdout


def test_at_80_columns_nothing_is_cut(search, fcnn_here, monkeypatch):
    for name in ("3", "4"):  # more swept keys than 80 columns hold
        _fake_run(search / name, dropout=0.25, shift=2, seed=int(name), test_acc=0.9,
                  activation="tanh", init_range=0.5, val_fraction=0.1, dtype="float64")
    proc = _report(fcnn_here, monkeypatch, str(search), width=80)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("wrote ")]
    assert all(len(line) <= 80 for line in lines), proc.stdout
    assert "…" not in proc.stdout
    words = " ".join(proc.stdout.split())
    left_out = re.search(r"left out: (.*?); see them", words)
    assert left_out, proc.stdout
    above = " ".join(_table(proc.stdout)[0])  # the title, then the header (maybe wrapped)
    for key in ("activation", "init_range", "seed", "dtype", "val_fraction", "dropout.hidden",
                "augment.shift"):  # each shown (its header whole, maybe over lines), or named
        shown = all(piece in above for piece in re.findall(r"[^.]*\.|[^.]+", key))
        assert shown != (key in left_out.group(1).split(", ")), (key, proc.stdout)
    for value in ("91.00", "95.00", "93.00", "90.00"):  # every test accuracy, whole
        assert value in proc.stdout


def test_which_keys_count():
    def run(config: dict) -> Run:
        return Run(Path("r"), config={"seed": 1, "dropout.hidden": 0.1, **config})

    runs = [run({"lr": 0.1, "progress": True, "resume": None, "logger.name": "none"}),
            run({"lr": 0.2, "progress": False, "resume": "outputs/x", "logger.name": "mlflow",
                 "objective": "val_loss", "optimizer.alpha": 0.1, "init_range": 1})]
    # lr has its own column; display, resuming, tracking and the objective change no result;
    # a key one run lacks (init_range) makes no difference; 1 and 1.0 are alike.
    assert swept_keys(runs) == []
    runs.append(run({"init_range": 1.0, "dropout.hidden": 0.2}))
    assert swept_keys(runs) == ["dropout.hidden"]
    # A probe's settings count only where a probe ran.
    plain = run({"probe.layer": None, "probe.lr": 0.1})
    probed = run({"probe.layer": 1, "probe.lr": 0.05})
    assert "probe.lr" not in settings_of(plain) and settings_of(probed)["probe.lr"] == 0.05
    assert swept_keys([plain, probed]) == ["probe.layer"]
    assert swept_keys([plain, probed, run({"probe.layer": 1, "probe.lr": 0.1})]) == [
        "probe.layer", "probe.lr"]
    # Named keys are shown though shared; the group-by key never (it has its own column).
    assert shown_keys(runs, ["seed"]) == ["seed", "dropout.hidden"]
    assert shown_keys(runs, ["seed"], group_key="seed") == ["dropout.hidden"]


def test_a_dotted_header_wraps_after_its_dots(search):
    runs = [read_run(search / name) for name, *_ in TRIALS]
    for run in runs:
        run.row["run"] = run.name = run.path.name
        run.row.update({k: v for k, v in settings_of(run).items()
                        if k in ("dropout.hidden", "augment.shift")})
    columns = (("run", "run"), ("dropout.hidden", "dropout.hidden"),
               ("augment.shift", "augment.shift"), ("test_acc", "test %"))
    tight = choose(runs, 3 + 8 + 8 + 6 + 6, columns)
    assert tight.keys == ["run", "dropout.hidden", "augment.shift", "test_acc"], tight
    assert tight.widths["dropout.hidden"] == len("dropout.")
    assert header_lines("dropout.hidden", 8) == "dropout.\nhidden"
    assert header_lines("schedule.warmup_epochs", 13) == "schedule.\nwarmup_epochs"
    assert header_lines("dropout.hidden", 14) == "dropout.hidden"
    assert header_lines("ep to 99%", 3) == "ep to 99%"  # spaces: the table wraps those itself


def _with_machine(path: Path, **machine) -> None:
    """What metrics.json records of the machine a run computed on (backends.threads.describe)."""
    metrics = json.loads((path / "metrics.json").read_text())
    (path / "metrics.json").write_text(json.dumps({**metrics, **machine}))


def test_runs_on_other_blas_threads_or_kernels_get_those_columns(tmp_path, fcnn_here,
                                                                  monkeypatch):
    """The same settings on other BLAS threads give other bits: the threads a run was pinned to
    (metrics.json's: a SLURM job's config says null, it ran on its cpus_per_task), and the BLAS
    threads and kernel, are columns when the runs differ in them."""
    machine = {"blas": "openblas 0.3.31", "blas_kernel": "SkylakeX"}
    # (run, the threads setting, the count it was pinned to, BLAS threads)
    for name, setting, pinned, blas_threads in (("local", None, None, 2), ("pinned", 1, 1, 1),
                                                 ("slurm", None, 1, 1)):
        run = _fake_run(tmp_path / name, dropout=0.0, shift=0, seed=1, test_acc=0.9,
                        threads=setting)
        _with_machine(run, threads=pinned, blas_threads=blas_threads, **machine)
    proc = _report(fcnn_here, monkeypatch, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    headers = _headers(proc.stdout)
    assert {"threads", "blas_threads"} <= set(headers), proc.stdout
    assert "blas" not in headers and "blas_kernel" not in headers  # shared: no column
    assert _column(proc.stdout, "blas_threads") == {"local": "2", "pinned": "1", "slurm": "1"}
    rows = {r["run"]: r for r in _csv(tmp_path)}
    assert [rows[n]["threads"] for n in ("local", "pinned", "slurm")] == ["", "1", "1"]
    assert [rows[n]["blas_threads"] for n in ("local", "pinned", "slurm")] == ["2", "1", "1"]
    # The SLURM job and the pinned run computed alike: between them, no column.
    assert swept_keys([read_run(tmp_path / "pinned"), read_run(tmp_path / "slurm")]) == []
    # Another kernel is named as soon as one run differs; runs from before the keys say nothing.
    _with_machine(tmp_path / "slurm", blas_kernel="Haswell")
    _fake_run(tmp_path / "old", dropout=0.0, shift=0, seed=1, test_acc=0.9)
    runs = [read_run(tmp_path / name) for name in ("local", "pinned", "slurm", "old")]
    assert "blas_kernel" in swept_keys(runs)
    assert "blas" not in swept_keys(runs)
    assert "blas_threads" not in settings_of(runs[-1])


def test_annealing_is_shown_only_where_the_schedule_uses_it(tmp_path):
    """Under a cosine or step schedule `annealing` changes no rate: no value, so no column and
    nothing in the title (the record's figure said 'anneal 0.9' over cosine runs)."""
    exponential = read_run(_fake_run(tmp_path / "exp", dropout=0.1, shift=0, seed=1, test_acc=0.9))
    default = read_run(_fake_run(tmp_path / "old", dropout=0.1, shift=0, seed=1, test_acc=0.9,
                                 schedule={"name": "exponential"}))
    cosine = read_run(_fake_run(tmp_path / "cos", dropout=0.1, shift=0, seed=1, test_acc=0.9,
                                schedule={"name": "cosine", "min_lr": 0.0}))
    assert exponential.row["annealing"] == default.row["annealing"] == 0.9
    assert cosine.row["annealing"] is None
