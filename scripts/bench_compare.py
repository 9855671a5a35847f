"""A/B guard: the timing job on a git ref (A) and on this working tree (B), interleaved, in one run.

    python scripts/bench_compare.py --ref REF [--rounds 3] [--backends numpy,jax,jax-grad]
                                    [--warmup 1] [--repeats 1] [--python PY] [KEY=VALUE ...]
    make bench-compare REF=8925a0d [ROUNDS=3] [BENCH_ARGS="dataset=digits struct=[64]"]
    python scripts/bench_compare.py --save-snapshot DIR   # then edit, then: --base-dir DIR

A is REF checked out in a temporary git worktree (`git worktree add --detach`; the main index is
not touched); B is a copy of the working tree as it is at the start (tracked and untracked files
git does not ignore, uncommitted changes included), so edits made while the comparison runs do
not leak into it. Both run from source (PYTHONPATH) with ONE interpreter: a virtual environment
built once from constraints.txt (the versions `make setup` installs) for the union of both
sides' dependencies and cached under ~/.cache/fcnn/bench-compare/ by a hash of what went into it,
so only the code differs between A and B. `--python` uses a given interpreter instead (quicker,
for tests; its site-packages then decide the versions).

Each round runs `fcnn bench` (the timing job, every backend, `warmup` untimed and `repeats`
timed fits per backend) once on A, then once on B: A B A B ... so that a neighbour's load falls
on both. KEY=VALUE arguments go to both benches (reduced sizes, another optimizer). Printed per
backend: each side's median fit [min-max], B/A = the ratio of the medians, and the min-max of the
rounds' paired ratios; below 1 the working tree is faster. The test accuracies of the two sides
are shown too: equal ones say the formulas did not change. Temporary directories and the
worktree are removed at the end (`--keep` keeps them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BACKENDS = ("numpy", "jax", "jax-grad")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fcnn" / "bench-compare"
# The bench's own floor is not used here: measure it as briefly as the bench allows.
QUICK_FLOOR = ("floor_matmul_size=256", "floor_repeats=1", "predict_repeats=1")


# --- the arithmetic (unit-tested in tests/unit/test_bench_compare_math.py) -----------------------

def schedule(rounds: int) -> list[tuple[int, str]]:
    """(round, side) in the order they run: A B A B ..."""
    return [(r, side) for r in range(rounds) for side in ("A", "B")]


def venv_key(constraints: str, dependencies: Iterable[str], python_version: str) -> str:
    """The cache key of the shared virtual environment: what went into it."""
    text = "\n".join([python_version, constraints, *sorted(set(dependencies))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compare(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """B against A from their fit times, round by round: the ratio of the medians and the
    min-max of the paired per-round ratios (rounds with both sides; a side may have several
    fits per round, then their median is that round's)."""
    paired = [y / x for x, y in zip(a, b, strict=False)]
    return {"a_median": statistics.median(a), "a_min": min(a), "a_max": max(a),
            "b_median": statistics.median(b), "b_min": min(b), "b_max": max(b),
            "ratio": statistics.median(b) / statistics.median(a),
            "ratio_min": min(paired), "ratio_max": max(paired), "rounds": len(paired)}


def table(rows: dict[str, dict[str, float]], accuracies: dict[str, tuple[set, set]]) -> list[str]:
    """The comparison as aligned text lines, one per backend (and optimizer)."""
    head = ["backend", "A median s [min-max]", "B median s [min-max]", "B/A", "paired B/A min-max",
            "change", "test acc A | B"]
    body = []
    for name, r in rows.items():
        acc_a, acc_b = accuracies.get(name, (set(), set()))
        same = "same" if acc_a == acc_b and len(acc_a) == 1 else "DIFFERENT"
        accs = " | ".join(", ".join(f"{100 * v:.2f}%" for v in sorted(s)) for s in (acc_a, acc_b))
        body.append([name, f"{r['a_median']:.3f} [{r['a_min']:.3f}-{r['a_max']:.3f}]",
                     f"{r['b_median']:.3f} [{r['b_min']:.3f}-{r['b_max']:.3f}]", f"{r['ratio']:.3f}",
                     f"{r['ratio_min']:.3f}-{r['ratio_max']:.3f}", f"{100 * (r['ratio'] - 1):+.1f}%",
                     f"{accs} ({same})"])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in [head, *body]]


# --- git, the trees and the interpreter ------------------------------------------------------------

def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def snapshot_working_tree(dest: Path) -> int:
    """Copy the working tree's files git tracks or would track (not ignored) to `dest`;
    the number of files with uncommitted changes."""
    names = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return len([line for line in git("status", "--porcelain").splitlines() if line.strip()])


def dependencies(tree: Path) -> list[str]:
    """[project] dependencies of the pyproject.toml in `tree`."""
    return list(tomllib.loads((tree / "pyproject.toml").read_text())["project"]["dependencies"])


def shared_venv(constraints: Path, deps: list[str], log) -> Path:
    """The cached virtual environment with `deps` installed at the versions in `constraints`;
    built on first use (a few minutes, from the package index or pip's cache)."""
    version = platform.python_version()
    venv = CACHE / f"venv-{venv_key(constraints.read_text(), deps, version)}"
    python = venv / "bin" / "python"
    if (venv / ".complete").is_file():
        log(f"environment: {venv} (cached)")
        return python
    log(f"environment: building {venv} from {constraints.name} (once; cached after)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(constraints), *sorted(set(deps))],
                   check=True)
    (venv / ".complete").write_text("\n".join(sorted(set(deps))) + "\n")
    return python


def side_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tree), HYDRA_FULL_ERROR="1")
    return env


def check_imports_from(python: Path, tree: Path) -> None:
    """Refuse to measure when `python` would import fcnn_cli from somewhere other than `tree`."""
    found = subprocess.run([str(python), "-c", "import fcnn_cli; print(fcnn_cli.__file__)"], cwd=tree,
                           env=side_env(tree), check=True, capture_output=True, text=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"bench-compare: {python} imports fcnn_cli from {found}, not from {tree}")


def bench_once(python: Path, tree: Path, run_dir: Path, args: list[str]) -> dict:
    """One `fcnn bench` on `tree`; its bench.json."""
    cmd = [str(python), "-m", "fcnn_cli", "bench", *args, f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(cmd, cwd=tree, env=side_env(tree), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench-compare: `fcnn bench` failed on {tree} (exit {proc.returncode}):\n"
                         f"{proc.stderr[-3000:]}")
    return json.loads((run_dir / "bench.json").read_text())


def result_name(result: dict) -> str:
    optimizer = result.get("optimizer", "sgd")
    return result["backend"] if optimizer == "sgd" else f"{result['backend']} ({optimizer})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    side_a = parser.add_mutually_exclusive_group(required=True)
    side_a.add_argument("--ref", help="the git ref to compare the working tree with (A)")
    side_a.add_argument("--base-dir", type=Path, help="instead of a ref: a directory holding a copy "
                        "of the source tree to compare with (A), e.g. one saved with --save-snapshot")
    side_a.add_argument("--save-snapshot", type=Path, help="copy the working tree (as B would see "
                        "it) to this new directory and stop: a base for a later --base-dir")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds (default 3)")
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS))
    parser.add_argument("--warmup", type=int, default=1, help="untimed fits per backend and bench")
    parser.add_argument("--repeats", type=int, default=1, help="timed fits per backend and bench")
    parser.add_argument("--python", type=Path, help="run both sides with this interpreter "
                        "instead of the cached environment built from constraints.txt")
    parser.add_argument("--constraints", type=Path, default=REPO / "constraints.txt")
    parser.add_argument("--json", type=Path, help="also write the fits and the comparison here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE for both benches (dataset=digits ...)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--rounds and --repeats must be >= 1, --warmup >= 0")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        parser.error(f"bench overrides are KEY=VALUE, got {bad}")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.save_snapshot:
        if args.save_snapshot.exists():
            parser.error(f"--save-snapshot: {args.save_snapshot} exists")
        args.save_snapshot.mkdir(parents=True)
        changed = snapshot_working_tree(args.save_snapshot)
        print(f"working tree ({changed} changed files) copied to {args.save_snapshot}")
        return 0
    if args.base_dir:
        if not (args.base_dir / "fcnn_cli").is_dir():
            parser.error(f"--base-dir: {args.base_dir} holds no fcnn_cli/")
        sha = "-"
    else:
        try:
            sha = git("rev-parse", "--verify", "--quiet", f"{args.ref}^{{commit}}")
        except subprocess.CalledProcessError:
            parser.error(f"--ref: {args.ref!r} is not a commit of {REPO}")
    bench_args = [f"backends=[{args.backends}]", f"warmup={args.warmup}", f"repeats={args.repeats}",
                  *QUICK_FLOOR, *args.overrides]
    tmp = Path(tempfile.mkdtemp(prefix="fcnn-bench-compare-"))
    trees = {"A": args.base_dir.absolute() if args.base_dir else tmp / "ref", "B": tmp / "work"}
    worktree_added = False
    try:
        if not args.base_dir:
            git("worktree", "add", "--detach", "--quiet", str(trees["A"]), sha)
            worktree_added = True
        trees["B"].mkdir()
        changed = snapshot_working_tree(trees["B"])
        if args.python:
            python = args.python.absolute()
            log(f"environment: {python} (given)")
        else:
            if not args.constraints.is_file():
                parser.error(f"--constraints: {args.constraints} not found (make constraints)")
            deps = dependencies(trees["A"]) + dependencies(trees["B"])
            python = shared_venv(args.constraints, deps, log)
        for tree in trees.values():
            check_imports_from(python, tree)
        labels = {"A": f"{args.base_dir}" if args.base_dir else f"{args.ref} ({sha[:10]})",
                  "B": f"working tree ({changed} changed files)"}
        log(f"A = {labels['A']}, B = {labels['B']}; {args.rounds} rounds A B A B; "
            f"fcnn bench {' '.join(bench_args)}")
        # name -> side -> per-round median fit; name -> side -> test accuracies
        fits: dict[str, dict[str, list[float]]] = {}
        accuracies: dict[str, tuple[set, set]] = {}
        raw = []
        for rnd, side in schedule(args.rounds):
            report = bench_once(python, trees[side], tmp / "runs" / f"{side}{rnd + 1}", bench_args)
            raw.append({"round": rnd + 1, "side": side, "results": report["results"],
                        "versions": report.get("versions")})
            shown = []
            for r in report["results"]:
                name = result_name(r)
                fits.setdefault(name, {"A": [], "B": []})[side].append(statistics.median(r["fit_seconds"]))
                accuracies.setdefault(name, (set(), set()))[side == "B"].add(r["test_acc"])
                shown.append(f"{name} {statistics.median(r['fit_seconds']):.3f} s")
            log(f"round {rnd + 1}/{args.rounds} {side}: " + ", ".join(shown))
        rows = {name: compare(f["A"], f["B"]) for name, f in fits.items() if f["A"] and f["B"]}
        print(f"bench-compare: A = {labels['A']}, B = {labels['B']}")
        print(f"{args.rounds} rounds, A B A B, each `fcnn bench {' '.join(bench_args)}`; "
              f"interpreter {python}")
        print("B/A = median fit of B over A's (below 1: the working tree is faster); paired = "
              "per-round B/A")
        for line in table(rows, accuracies):
            print(line)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            args.json.write_text(json.dumps(
                {"ref": args.ref or str(args.base_dir), "sha": sha, "labels": labels,
                 "bench_args": bench_args, "python": str(python), "comparison": rows, "runs": raw},
                indent=2) + "\n")
        return 0
    finally:
        if worktree_added:
            subprocess.run(["git", "worktree", "remove", "--force", str(trees["A"])], cwd=REPO,
                           capture_output=True)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
