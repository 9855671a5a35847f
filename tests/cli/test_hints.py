"""What a tired user types gets one line that names the fix, exit status 2, and no run (issue 32):
each hint leads somewhere else than the same error."""

from __future__ import annotations

import pytest

CASES = [
    (["lr=0,1"], "lr: takes one number; did you mean lr=0.1? Or, to sweep lr over 0 and 1, add -m"),
    (["max_epochs=5,10"], "max_epochs: takes one number, got '5,10'; to sweep max_epochs over 5 "
                          "and 10, add -m"),
    (["struct=0,1"], "struct: write one list in square brackets: struct=[0,1]"),
    (["backend=numpy,jax"], "backend: takes one of numpy, jax, jax-grad, sklearn, got "
                            "'numpy,jax'; to sweep backend over numpy and jax, add -m"),
    (["struct=(500,250)"], "struct: a list is written in square brackets: struct=[500,250]"),
    (["struct=(500, 250)"], "struct: a list is written in square brackets: struct=[500,250]"),
    (["epochs=5", "learning_rate=0.1"], "epochs, learning_rate: no such settings: epochs (did you "
                                        "mean max_epochs?); learning_rate (did you mean lr?)"),
    (["--epochs", "5"], "--epochs: fcnn takes settings as KEY=VALUE, not as flags: write "
                        "max_epochs=5"),
    (["--learning-rate=0.1"], "--learning-rate: fcnn takes settings as KEY=VALUE, not as flags: "
                              "write lr=0.1"),
    (["~lr"], "lr: cannot be deleted; set lr=VALUE"),
    (["~backend"], "backend: cannot be deleted; set backend=VALUE"),
    (["~dataset"], "dataset: cannot be deleted; set dataset=VALUE"),
    (["~optimizer.momentum"], "optimizer.momentum: cannot be deleted"),
]


@pytest.mark.parametrize(("args", "line"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_hint_names_the_fix(tmp_path, monkeypatch, fcnn_here, args, line):
    monkeypatch.chdir(tmp_path)
    result = fcnn_here("train", *args, "dataset=digits", "max_epochs=1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"fcnn: error: {line}"), result.stderr
    assert result.stdout == "" and not any(tmp_path.iterdir())  # nothing ran, nothing written


def test_a_hint_never_loops(tmp_path, monkeypatch, fcnn_here):
    """What a hint proposes is accepted: lr=0.1 trains; the swept form runs with -m."""
    monkeypatch.chdir(tmp_path)
    common = ("dataset=digits", "backend=numpy", "struct=[8]", "max_epochs=1", "progress=false",
              "plot=false")
    assert fcnn_here("train", "lr=0.1", *common).returncode == 0
    assert fcnn_here("train", "struct=[16,8]", *common[:2], *common[3:]).returncode == 0
    swept = fcnn_here("train", "-m", "lr=0,1", *common)  # lr=0 is refused per job, in one line
    assert swept.returncode == 2 and "lr: must be a finite number > 0, got 0.0" in swept.stderr


def test_fcnn_data_without_an_action_names_them(fcnn_here):
    result = fcnn_here("data")
    assert result.returncode == 2
    assert result.stderr == ("fcnn: error: data: name an action: fcnn data fetch (download and verify "
                          "MNIST into the data cache) or fcnn data info (what is cached, and whether "
                          "it verifies)\n")
