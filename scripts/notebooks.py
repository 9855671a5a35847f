"""Run the lab's notebooks (notebooks/*.ipynb) in a real Jupyter kernel, with nbclient.

    python scripts/notebooks.py notebooks/*.ipynb --write                  # as written (MNIST)
    python scripts/notebooks.py notebooks/*.ipynb --set dataset=digits --set epochs=2

Each notebook has one code cell tagged `parameters` (dataset, epochs). `--set NAME=VALUE` adds
a cell tagged `injected-parameters` after it that sets them (papermill's convention: the saved
notebook says which values its outputs come from); a later run replaces that cell, and a run
without --set removes it. A run fails on any error in a cell, and on ANSI escape codes in any
output: what a notebook saves must read as plain text. `--write` saves the outputs into the
notebook. The kernel works in `--cwd` (default: here), so runs go to its outputs/.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path
from typing import Any

PARAMETERS, INJECTED = "parameters", "injected-parameters"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def with_parameters(nb: Any, parameters: dict[str, Any]) -> Any:
    """`nb` with its injected-parameters cell (if any) replaced by one setting `parameters`
    (none when empty), right after the cell tagged `parameters`."""
    import nbformat

    cells = [cell for cell in nb.cells if INJECTED not in _tags(cell)]
    at = [i for i, cell in enumerate(cells) if PARAMETERS in _tags(cell)]
    if len(at) != 1:
        raise ValueError(f"a notebook needs exactly one cell tagged {PARAMETERS!r}; found {len(at)}")
    if parameters:
        source = "# Parameters (injected)\n" + "".join(
            f"{name} = {value!r}\n" for name, value in parameters.items())
        cell = nbformat.v4.new_code_cell(source.rstrip("\n"), metadata={"tags": [INJECTED]})
        cells.insert(at[0] + 1, cell)
    nb.cells = cells
    return nb


def execute(path: Path, parameters: dict[str, Any], cwd: Path, timeout: float = 3600) -> Any:
    """The notebook at `path` executed top to bottom in a fresh python3 kernel in `cwd`."""
    import nbformat
    from nbclient import NotebookClient

    nb = with_parameters(nbformat.read(path, as_version=4), parameters)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def problems(nb: Any) -> list[str]:
    """What is wrong with an executed notebook's outputs: errors, and ANSI escape codes."""
    found = []
    for number, cell in enumerate(nb.cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {number}: {output.get('ename')}: {output.get('evalue')}")
            texts = [output.get("text", ""), *output.get("data", {}).values()]
            for text in texts:
                if isinstance(text, list):
                    text = "".join(text)
                if isinstance(text, str) and ANSI.search(text):
                    found.append(f"cell {number}: ANSI escape codes in its output: "
                                 f"{ANSI.search(text).group()!r}")
                    break
    return found


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter's value (a Python literal, or a string)")
    parser.add_argument("--write", action="store_true", help="save the outputs in the notebooks")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the kernel's directory")
    args = parser.parse_args(argv)
    parameters = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item}: write NAME=VALUE")
        parameters[name] = _value(value)
    import nbformat

    failed = 0
    for path in args.notebooks:
        print(f"running {path} ...", flush=True)
        nb = execute(path, parameters, args.cwd.resolve())
        found = problems(nb)
        for line in found:
            print(f"{path}: {line}", file=sys.stderr)
        failed += bool(found)
        if args.write:
            nbformat.write(nb, path)
            print(f"wrote {path}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
