"""The lab's notebooks (notebooks/*.ipynb) run top to bottom in a real Jupyter kernel (nbclient),
on digits with 2 epochs (their parameters cell overridden), with no error and no ANSI escape
code in any output; the saved notebooks hold their outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "scripts" / "notebooks.py")
run_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebooks)

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra (nbclient) is not installed")
pytest.importorskip("nbclient", reason="the notebooks extra (nbclient) is not installed")
pytest.importorskip("ipykernel", reason="the notebooks extra (ipykernel) is not installed")


def test_there_are_the_examples_and_the_problems():
    assert [p.name for p in NOTEBOOKS] == ["examples.ipynb", "problems.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_on_digits(path, tmp_path):
    nb = run_notebooks.execute(path, {"dataset": "digits", "epochs": 2}, tmp_path, timeout=600)
    assert run_notebooks.problems(nb) == []
    streams = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", [])
                      if o.get("output_type") == "stream" and o.get("name") == "stderr")
    assert "epoch 2/2" in streams and "epoch 3/12" not in streams  # the injected epochs took
    assert "Warning" not in streams and "ipywidgets" not in streams
    images = [o for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images  # the figures are shown inline
    assert (tmp_path / "outputs").is_dir()  # runs go under the kernel's directory


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_saved_notebook_holds_its_outputs(path):
    nb = nbformat.read(path, as_version=4)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "dataset = " in parameters[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert run_notebooks.problems(nb) == []
    # Saved as written, on MNIST (make notebooks), not from a run with --set dataset=digits.
    assert not [c for c in nb.cells if run_notebooks.INJECTED in c.metadata.get("tags", [])]
    assert 'dataset = "mnist"' in parameters[0].source
    outputs = "".join(o.get("text", "") for c in code for o in c.get("outputs", []))
    assert "on mnist" in outputs or "dataset=mnist" in outputs


def test_parameters_are_injected_after_the_parameters_cell_and_replaced():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("dataset = 'mnist'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(dataset)")])
    once = run_notebooks.with_parameters(nb, {"dataset": "digits", "epochs": 2})
    assert once.cells[1].source == "# Parameters (injected)\ndataset = 'digits'\nepochs = 2"
    again = run_notebooks.with_parameters(once, {"epochs": 3})
    assert [c.source for c in again.cells][1:] == ["# Parameters (injected)\nepochs = 3", "print(dataset)"]
    assert len(run_notebooks.with_parameters(again, {}).cells) == 2


def test_interrupting_the_kernel_stops_after_the_epoch_and_the_run_resumes(tmp_path):
    """Jupyter's "interrupt the kernel" (SIGINT to a real kernel) mid-run: the run stops after its
    epoch, saved as interrupted; fcnn_cli.Interrupted reaches the cell; the next cell resumes it
    in the same kernel."""
    import json
    import time

    from jupyter_client.manager import start_new_kernel

    run_dir = tmp_path / "run"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        def run_cell(code: str) -> list[dict]:
            msg_id = kc.execute(code)
            seen = []
            while True:
                msg = kc.get_iopub_msg(timeout=300)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return seen
                seen.append(msg)

        msg_id = kc.execute(
            "import fcnn_cli\nfcnn_cli.train('dataset=digits', 'backend=numpy', 'struct=[16]', "
            f"'batch_size=4', 'max_epochs=400', 'checkpoint.every_s=0', run_dir={str(run_dir)!r})")
        deadline = time.monotonic() + 120
        while not (run_dir / "checkpoint.npz").exists():
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        km.interrupt_kernel()
        errors = []
        while True:
            msg = kc.get_iopub_msg(timeout=300)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                errors.append(msg["content"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert [e["ename"] for e in errors] == ["Interrupted"]
        assert f"fcnn_cli.train('resume={run_dir}')" in errors[0]["evalue"]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "interrupted" and 0 < metrics["epochs_completed"] < 400
        done = metrics["epochs_completed"]
        outputs = run_cell(f"run = fcnn_cli.train('resume={run_dir}', 'max_epochs={done + 1}')\n"
                           "print(run.status, run.metrics['epochs_completed'])")
        printed = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"
                          and m["content"]["name"] == "stdout")
        assert f"completed {done + 1}" in printed
        assert not [m for m in outputs if m["msg_type"] == "error"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_fcnn_in_a_notebook_cell_saves_plain_lines(tmp_path):
    """`!fcnn train ...` runs under a pseudo-terminal (IPython's pexpect) with FORCE_COLOR=1 (set
    by ipykernel): what the cell saves is still one plain line per epoch."""
    import sys

    from nbclient import NotebookClient

    run_dir = tmp_path / "run"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"!{sys.executable} -m fcnn_cli train dataset=digits backend=numpy struct=[16] "
        f"max_epochs=3 plot=false hydra.run.dir={run_dir}")])
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert run_notebooks.problems(nb) == [] and "\x1b" not in text
    lines = [line for line in text.replace("\r\n", "\n").splitlines() if line]
    assert [line.split("  ")[0] for line in lines[:3]] == [f"numpy epoch {n}/3" for n in (1, 2, 3)]
    assert lines[3].startswith("test accuracy") and (run_dir / "metrics.json").is_file()


def test_a_live_display_needs_a_real_terminal_outside_jupyter(monkeypatch):
    import io
    import os

    from fcnn_cli.training.progress import draws_live

    for name in ("JPY_PARENT_PID", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)
    leader, follower = os.openpty()
    with open(follower, "w") as terminal:
        assert draws_live(terminal)
        assert not draws_live(io.StringIO())
        monkeypatch.setenv("FORCE_COLOR", "1")  # colour asked for: still no terminal when piped
        assert not draws_live(io.StringIO())
        monkeypatch.setenv("JPY_PARENT_PID", "1")  # started by a Jupyter kernel (`!fcnn ...`)
        assert not draws_live(terminal)
        monkeypatch.delenv("JPY_PARENT_PID")
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        assert not draws_live(terminal)
    os.close(leader)
