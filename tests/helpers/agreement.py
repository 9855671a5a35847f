"""Two trainings' weights agreeing in float64, as numpy, jax and jax-grad must on the same
settings: each weight to 1e-9 of its matrix's largest, each bias to 1e-9 of its vector's largest
(or of 1e-3, for biases that stay near zero)."""

from __future__ import annotations

import numpy as np


def assert_weights_agree(params, reference) -> None:
    """`params` and `reference`, (W, b) pairs input layer first, equal to float64's rounding."""
    for (w, b), (w0, b0) in zip(params, reference, strict=True):
        np.testing.assert_allclose(w, w0, rtol=0, atol=1e-9 * np.abs(w0).max())
        np.testing.assert_allclose(b, b0, rtol=0, atol=1e-9 * max(np.abs(b0).max(), 1e-3))
