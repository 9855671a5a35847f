"""The probe's features, in process: the hidden layer it reads is the forward pass's. The probe
end to end: tests/cli/test_problems.py."""

from __future__ import annotations

import numpy as np

from fcnn_cli.core import model
from fcnn_cli.core.tasks import Classify
from fcnn_cli.data import datasets


def test_probe_features_are_the_hidden_layer():
    task = Classify(64, 10, (16, 4, 8))
    params = model.init_params(task.sizes(), seed=2, dtype="float64")
    x = datasets.load("digits", dtype="float64").x_test[:5]
    zs = model.forward(np, params, x, "tanh")
    for layer in (1, 2, 3):
        np.testing.assert_array_equal(model.hidden(np, params, x, layer, "tanh"), zs[layer])
    np.testing.assert_array_equal(model.logits(np, params, x, "tanh"), zs[-1])
