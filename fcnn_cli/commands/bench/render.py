"""What `fcnn bench` shows: progress on stderr while it works, then the report on stdout, and
bench.md.

The report leads with a plain sentence (how long each backend takes, as a multiple of the least
time this CPU needs for the job's arithmetic), then a table that fits the terminal (80 columns
when the output is not a terminal and $COLUMNS is unset, as for `fcnn report`): a column that
does not fit is left out whole and named below, never cut; bench.md keeps every column. The
engineer's lines (the floor, the BLAS, the gemm floor, what each ratio divides) come after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The lab's timing table (Colab, 2022): fit seconds, where, predict seconds for 10,000 images,
# test accuracy.
LAB_TIMING = {
    "numpy": {"fit": 293.0, "where": "CPU", "predict": 0.333, "test_acc": 0.9646},
    "jax": {"fit": 28.8, "where": "P100 GPU", "predict": 0.0172, "test_acc": 0.9682},
    "jax-grad": {"fit": 58.2, "where": "P100 GPU", "predict": 0.0175, "test_acc": 0.9683},
}
#: Between two columns of a table on the terminal: one space of padding, one of the divider.
GAP = 2
#: How the floor's libraries read in the lines.
NOISY_MARK, BELOW_MARK = "*", "!"


class Steps:
    """Progress on stderr, one step at a time: a status line on a terminal (replaced by the next
    step, gone at the end), one plain line per step anywhere else (no spinner, no ANSI codes)."""

    def __init__(self) -> None:
        from fcnn_cli.training.progress import Display

        self.display = Display(enabled=True)

    def __call__(self, text: str) -> None:
        line = f"fcnn bench: {text}"
        if self.display.live:
            self.display.status(line)
        else:
            self.display.line(line)

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.clear()


def job_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The job's own row of each backend (without plain SGD's reference row beside it)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        rows[r["backend"]] = r  # the job's row comes after its reference's
    return list(rows.values())


def is_lab_job(report: dict[str, Any]) -> bool:
    job = report["job"]
    return (report["dataset"] == "mnist" and list(job["struct"]) == [500, 250]
            and job["max_epochs"] == 3 and job["batch_size"] == 100)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _seconds(s: float) -> str:
    if s < 0.1:
        return f"{1e3 * s:.2f} ms"
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def sentence(report: dict[str, Any]) -> str:
    """The plain sentence the report leads with."""
    job, floor = report["job"], report["floor"]
    rows = job_rows(report["results"])
    name = "the lab's timing job" if is_lab_job(report) else (
        f"the timing job ({report['dataset']}, struct {list(job['struct'])}, "
        f"{_epochs(job['max_epochs'])})")
    optimizer = job.get("optimizer", "sgd")
    with_optimizer = "" if optimizer == "sgd" else f" with {optimizer}"

    def who(r: dict[str, Any]) -> str:
        return r["backend"] + ("" if r.get("device", "cpu") == "cpu" else f" (on the {r['device']})")

    first, others = rows[0], rows[1:]
    text = (f"{who(first)} trains {name}{with_optimizer} in {_seconds(first['fit_median'])}, "
            f"{first['ratio_to_floor']:.1f}x the least time this CPU needs for its arithmetic "
            f"({_seconds(floor['seconds'])})")
    if others:
        text += "; " + ", ".join(f"{who(r)} {_seconds(r['fit_median'])} "
                                 f"({r['ratio_to_floor']:.1f}x)" for r in others)
    return text + "."


def warnings_lines(report: dict[str, Any], words: bool = False) -> list[str]:
    """What may make the ratios wrong: a noisy floor, a ratio below it, a BLAS held back.
    `words`: without the marks the terminal's table uses (bench.md writes the words out)."""
    from fcnn_cli.commands.bench import blas_info

    floor, lines = report["floor"], []
    noisy, below = ("", "") if words else (f"{NOISY_MARK} ", f"{BELOW_MARK} ")
    if floor.get("noisy"):
        lines.append(f"{noisy}noisy floor: its own repeats disagree ({100 * floor['spread']:.0f}% "
                     "between their median and their best), so the machine was busy while it was "
                     "measured and every x floor may be too low; rerun at a quiet moment")
    elif any(r.get("below_floor") for r in report["results"] + report.get("peers", {}).get("results", [])):
        lines.append(f"{below}below the floor: a ratio below 1.0 with a steady floor; the job "
                     "multiplied faster than the fastest large product measured, so the floor "
                     "misses a library or a kernel the job uses")
    if report.get("held_kernel"):
        lines.append(blas_info.held_line(report["held_kernel"]))
    return lines


def _ratio(r: dict[str, Any], words: bool = False) -> str:
    text = f"{r['ratio_to_floor']:.2f}"
    if r.get("noisy_floor"):
        return text + (" (noisy floor)" if words else NOISY_MARK)
    if r.get("below_floor"):
        return text + (" (below the floor)" if words else BELOW_MARK)
    return text


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, its cell of a row, and its turn for room (0 first)."""

    header: str
    cell: Callable[[dict[str, Any]], str]
    priority: int
    numeric: bool = True


def _optimizer(r: dict[str, Any]) -> str:
    return r.get("optimizer", "-") + (f", lr {r['lr']:g}" if "lr" in r else "")


def _lab(report: dict[str, Any], key: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        lab = report["lab"].get(r["backend"])
        if lab is None:
            return "-"
        return {"fit": f"{lab['fit']:g} ({lab['where']})", "predict": f"{1e3 * lab['predict']:g}",
                "test_acc": f"{100 * lab['test_acc']:.2f}%",
                "ours": f"{lab['fit'] / r['fit_median']:.1f}x"}[key]
    return cell


def result_columns(report: dict[str, Any], words: bool = False) -> list[Column]:
    """The results table's columns, in display order, those that say something in this report."""
    results = report["results"]
    columns = [Column("backend", lambda r: r["backend"], 0, numeric=False)]
    if any(r.get("device", "cpu") != "cpu" for r in results) or words:
        columns.append(Column("device", lambda r: r["device"], 9, numeric=False))
    if any("ratio_to_sgd" in r for r in results) or words:
        columns.append(Column("optimizer", _optimizer, 1, numeric=False))
    columns += [Column("fit min s", lambda r: f"{r['fit_min']:.2f}", 12),
                Column("fit median s" if words else "fit s", lambda r: f"{r['fit_median']:.2f}", 2),
                Column("x floor", lambda r: _ratio(r, words), 3)]
    if "gemm" in report["floor"]:
        columns.append(Column("x gemm floor", lambda r: f"{r['ratio_to_gemm_floor']:.2f}", 8))
    if any("ratio_to_sgd" in r for r in results):
        columns.append(Column("x sgd", lambda r: f"{r['ratio_to_sgd']:.2f}" if "ratio_to_sgd" in r
                              else "-", 4))
    columns += [Column("predict ms", lambda r: f"{1e3 * r['predict_median']:.1f}", 10),
                Column("compile s", lambda r: f"{r['compile_seconds']:.2f}", 11),
                Column("test acc", lambda r: f"{100 * r['test_acc']:.2f}%", 7)]
    if "lab" in report:
        columns += [Column("lab fit s", _lab(report, "fit"), 6),
                    Column("lab predict ms", _lab(report, "predict"), 14),
                    Column("lab test acc", _lab(report, "test_acc"), 13),
                    Column("lab / ours", _lab(report, "ours"), 5)]
    return columns


def peer_columns(report: dict[str, Any], words: bool = False) -> list[Column]:
    """The peers table's columns."""
    return [Column("peer", lambda r: r["title"], 0, numeric=False),
            Column("fit s", lambda r: f"{r['fit_median']:.2f}", 1),
            Column("x floor", lambda r: _ratio(r, words), 3),
            Column(f"x fcnn {report['peers']['fcnn']}", lambda r: f"{r['ratio_to_fcnn']:.2f}", 2),
            Column("train acc", lambda r: f"{100 * r['curves'][-1]['train_acc']:.2f}%", 5),
            Column("test acc", lambda r: f"{100 * r['test_acc']:.2f}%", 4),
            Column("compile s", lambda r: f"{r['compile_seconds']:.2f}", 6)]


def columns_that_fit(columns: list[Column], rows: list[dict[str, Any]], width: int
        ) -> tuple[list[Column], list[Column]]:
    """The columns that fit `width` (by priority, shown in display order) and those left out.
    The first column is always shown."""
    widths = {c.header: max(len(c.header), *(len(c.cell(r)) for r in rows)) for c in columns}
    used, kept = -GAP, set()
    for c in sorted(columns, key=lambda c: c.priority):
        if not kept or used + GAP + widths[c.header] <= width:
            kept.add(c.header)
            used += GAP + widths[c.header]
    return ([c for c in columns if c.header in kept], [c for c in columns if c.header not in kept])


def _job_line(report: dict[str, Any]) -> str:
    job = report["job"]
    optimizer = f"{job['optimizer']}, " if "optimizer" in job else ""
    return (f"job: {report['dataset']} ({report['n_train']} training images), struct "
            f"{list(job['struct'])}, {_epochs(job['max_epochs'])}, batch {job['batch_size']}, "
            f"{optimizer}lr {job['lr']}, annealing {job['annealing']}, {job['dtype']}; curves A and "
            "C after every epoch are in the fit time")


def _floor_line(report: dict[str, Any]) -> str:
    floor = report["floor"]
    libraries = floor.get("libraries", {})
    title = libraries.get(floor.get("library"), {}).get("title", "numpy's BLAS")
    count = len(floor.get("measurements", []))
    bests = ", ".join(f"{lib['title']} {lib['gflops_rate']:.0f}" for lib in libraries.values())
    return (f"floor: {floor['gflop']:.3g} GFLOP at {floor['gflops_rate']:.1f} GFLOP/s, the fastest "
            f"float32 {floor['matmul_size']}x{floor['matmul_size']} product of any library in the "
            f"run: {title} (each library's best of {count} measurement(s) through the run"
            f"{': ' + bests if bests else ''}; {report['machine']['cpus']} cores) = "
            f"{_seconds(floor['seconds'])}; x floor = median fit / floor")


def _blas_line(report: dict[str, Any]) -> str | None:
    if "blas" not in report:
        return None
    from fcnn_cli.commands.bench import blas_info

    versions = report.get("versions", {})
    xla = f"; XLA: jax {versions['jax']}" if versions.get("jax") else ""
    return f"numpy's BLAS: {blas_info.describe(report['blas'])}{xla}"


def _gemm_line(report: dict[str, Any]) -> str:
    floor = report["floor"]
    gemm = floor["gemm"]
    parts = ", ".join(f"{s['what']} {s['ms']:.3f} ms x {s['count']} ({s['gflops_rate']:.0f} GFLOP/s)"
                      for s in gemm["sequences"])
    times = [m["gemm_seconds"] for m in floor.get("measurements", []) if "gemm_seconds" in m]
    best_of = f", the best of {len(times)}: " + ", ".join(_seconds(t) for t in times) \
        if len(times) > 1 else ""
    return (f"gemm floor: the job's own {gemm['dtype']} matrix products alone through numpy "
            f"({parts}) = {_seconds(gemm['seconds'])}{best_of}; x gemm floor = median fit / it")


def detail_lines(report: dict[str, Any]) -> list[str]:
    """The engineer's lines: the job, the floor, the BLAS, the gemm floor, what each ratio is."""
    lines = [_job_line(report), _floor_line(report)]
    blas = _blas_line(report)
    if blas:
        lines.append(blas)
    if "gemm" in report["floor"]:
        lines.append(_gemm_line(report))
    lines.append(f"fit: {report['repeats']} timed run(s) after {report['warmup']} warm-up; predict "
                 "= median over the test set; compile apart")
    if any("ratio_to_sgd" in r for r in report["results"]):
        lines.append("x sgd = median fit over that of the same job with plain SGD on the same "
                     "backend, timed run for run in between")
    if "lab" in report:
        lines.append("lab: the lab's reported timing job (Colab, 2022; numpy on its CPU, the JAX "
                     "backends on a P100 GPU); lab / ours = the lab's fit time over our median")
        if not is_lab_job(report):
            lines.append("note: this run is not the lab's job (MNIST, [500,250], 3 epochs, batch "
                         "100), so the lab's numbers are not comparable")
    return lines


def peer_lines(report: dict[str, Any]) -> list[str]:
    """What the peers table is, and the peers that did not run."""
    peers = report["peers"]
    fastest = next(r for r in job_rows(report["results"]) if r["backend"] == peers["fcnn"])
    lines = [f"peers: the same job written without fcnn, timed in this sitting against the same "
             f"floor; x fcnn {peers['fcnn']} = their median fit over fcnn's fastest backend's "
             f"({peers['fcnn']}, {_seconds(fastest['fit_median'])}); train acc: curve A after "
             "the last epoch"]
    lines += [f"not run: {name} ({why})" for name, why in peers.get("skipped", {}).items()]
    return lines


def _markdown_table(columns: list[Column], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(c.cell(r) for c in columns) + " |" for r in rows]


def markdown(report: dict[str, Any]) -> str:
    """bench.md: the sentence, the warnings, every column of the results, the engineer's lines,
    the peers and the profile."""
    lines = ["# fcnn bench", "", sentence(report), ""]
    lines += [f"- {line}" for line in warnings_lines(report, words=True) + detail_lines(report)]
    lines += [""] + _markdown_table(result_columns(report, words=True), report["results"])
    if report.get("peers"):
        lines += ["", "## Peers", ""] + [f"- {line}" for line in peer_lines(report)]
        if report["peers"]["results"]:
            lines += [""] + _markdown_table(peer_columns(report, words=True),
                                            report["peers"]["results"])
    if report.get("profile"):
        from fcnn_cli.commands.bench import profile

        lines += ["", "## Profile: one mini-batch step, best of the floor's repeats"]
        lines += profile.markdown(report["profile"])
    return "\n".join(lines) + "\n"


def _print_table(console: Any, columns: list[Column], rows: list[dict[str, Any]], width: int) -> None:
    from rich import box
    from rich.table import Table

    shown, left_out = columns_that_fit(columns, rows, width)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    for c in shown:
        table.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=True)
    for r in rows:
        table.add_row(*(c.cell(r) for c in shown))
    console.print(table)
    if left_out:
        console.print(f"left out for width: {', '.join(c.header for c in left_out)} (bench.md has "
                      "every column)", markup=False, highlight=False, style="dim")


def print_report(report: dict[str, Any], width: int | None = None) -> None:
    """The report on stdout, `width` columns wide (default: the terminal's, else $COLUMNS, else 80)."""
    from rich.console import Console

    from fcnn_cli.commands.report.render import terminal_width

    width = terminal_width() if width is None else width
    console = Console(width=width)

    def say(line: str, style: str | None = None) -> None:
        console.print(line, markup=False, highlight=False, style=style)

    say(sentence(report))
    for line in warnings_lines(report):
        say(line, "yellow")
    console.print()
    _print_table(console, result_columns(report), report["results"], width)
    for line in detail_lines(report):
        say(line, "dim")
    if report.get("peers"):
        console.print()
        if report["peers"]["results"]:
            _print_table(console, peer_columns(report), report["peers"]["results"], width)
        for line in peer_lines(report):
            say(line, "dim")
    if report.get("profile"):
        from fcnn_cli.commands.bench import profile

        for line in profile.markdown(report["profile"]):
            console.print(line, highlight=False, markup=False)
