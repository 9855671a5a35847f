"""The numpy backend's plain SGD subtracts each weight gradient inside its BLAS product
(fcnn_cli/backends/blas.py): the same numbers as the product into a buffer and the update pass,
bit for bit; with an L2 penalty, W decays inside the same product (gemm's beta), as the update
pass does up to rounding; and the ReLU derivative is a multiply by z > 0, as in model.backward."""

from __future__ import annotations

import numpy as np
import pytest

from fcnn_cli import backends
from fcnn_cli.backends import blas
from fcnn_cli.backends.numpy_backend import _times_derivative_inplace
from fcnn_cli.config import validate
from fcnn_cli.data import datasets


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_subtract_product_is_numpys_product_subtracted(dtype):
    fn = blas.subtract_product(dtype)
    if fn is None:
        pytest.skip("numpy's BLAS is not reachable here; the backend keeps matmul and the update")
    rng = np.random.default_rng(1)
    a, b = rng.random((100, 78)).astype(dtype), rng.standard_normal((100, 50)).astype(dtype)
    c = rng.standard_normal((78, 50)).astype(dtype)
    expected = c - a.T @ b
    fn(a, b, c)
    np.testing.assert_array_equal(c, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_plain_sgd_trains_bit_for_bit_as_the_update_pass(dtype):
    settings = validate.from_config({"dataset": {"name": "digits"}, "struct": [32, 16], "dtype": dtype,
                                     "batch_size": 50, "lr": 0.2, "backend": {"name": "numpy"}})
    data = datasets.load("digits", None, dtype, 0.0, 1)
    fused, plain = backends.create(settings, data), backends.create(settings, data)
    if fused._subtract_product is None:
        pytest.skip("numpy's BLAS is not reachable here")
    plain._subtract_product = None  # the product into the gradient buffer, then the update
    order = np.random.default_rng(3).permutation(data.n_train)
    for backend in (fused, plain):
        for _ in range(2):
            backend.train_epoch(order, 0.2)
    for (w1, b1), (w2, b2) in zip(fused.get_params(), plain.get_params(), strict=True):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    assert fused.get_opt_state().step == plain.get_opt_state().step == 2 * -(-data.n_train // 50)


def test_relu_derivative_is_the_references_multiply():
    rng = np.random.default_rng(0)
    z = np.maximum(rng.standard_normal((20, 30)), 0).astype(np.float32)
    err = rng.standard_normal((20, 30)).astype(np.float32)
    expected = err * (z > 0).astype(np.float32)  # model.ACTIVATIONS["relu"]'s derivative
    _times_derivative_inplace("relu", err, z)
    np.testing.assert_array_equal(err, expected)
    assert np.array_equal(np.signbit(err), np.signbit(expected))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_subtract_product_with_beta_decays_c_first(dtype):
    fn = blas.subtract_product(dtype)
    if fn is None:
        pytest.skip("numpy's BLAS is not reachable here")
    rng = np.random.default_rng(2)
    a, b = rng.random((100, 78)).astype(dtype), rng.standard_normal((100, 50)).astype(dtype)
    c = rng.standard_normal((78, 50)).astype(dtype)
    expected = 0.97 * c.astype(np.float64) - a.T.astype(np.float64) @ b
    fn(a, b, c, 0.97)
    np.testing.assert_allclose(c, expected, rtol=0, atol=(1e-5 if dtype == "float32" else 1e-13))


def _pair(dtype, optimizer, lr=0.2):
    settings = validate.from_config({"dataset": {"name": "digits"}, "struct": [32, 16], "dtype": dtype,
                                     "batch_size": 50, "lr": lr, "backend": {"name": "numpy"},
                                     "optimizer": {"name": "sgd", **optimizer}})
    data = datasets.load("digits", None, dtype, 0.0, 1)
    fused, plain = backends.create(settings, data), backends.create(settings, data)
    plain._subtract_product = None  # the product into the gradient buffer, then the update
    return data, fused, plain


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_sgd_with_l2_penalty_follows_the_update_pass(dtype):
    data, fused, plain = _pair(dtype, {"alpha": 0.3})
    if fused._subtract_product is None:
        pytest.skip("numpy's BLAS is not reachable here")
    assert fused._optimizer.fused(0.2, 50) is not None  # W decays inside the product
    order = np.random.default_rng(3).permutation(data.n_train)  # its last batch is smaller (37)
    for backend in (fused, plain):
        for _ in range(2):
            backend.train_epoch(order, 0.2)
    tol = 2e-5 if dtype == "float32" else 1e-12  # test_optim's, in-place against pure
    for (w1, b1), (w2, b2) in zip(fused.get_params(), plain.get_params(), strict=True):
        np.testing.assert_allclose(w1, w2, rtol=0, atol=tol * np.abs(w2).max())
        np.testing.assert_allclose(b1, b2, rtol=0, atol=tol * np.abs(b2).max())
    start = fused.initial_params()
    assert max(np.abs(w - w0).max() for (w, _), (w0, _) in zip(plain.get_params(), start,
                                                               strict=True)) > 1e3 * tol
    assert fused.get_opt_state().step == plain.get_opt_state().step == 2 * -(-data.n_train // 50)


def test_only_plain_sgd_fuses_and_never_with_beta_zero():
    """Momentum and Nesterov take the update pass; so does a step whose decay 1 - lr alpha / B is 0
    (gemm would ignore W, NaN included, instead of multiplying it by 0)."""
    for optimizer in ({"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}):
        _, fused, _ = _pair("float64", optimizer)
        assert fused._subtract_product is None
        assert fused._optimizer.fused(0.2, 50) is None
    _, fused, _ = _pair("float64", {"alpha": 0.5}, lr=100.0)
    assert fused._optimizer.fused(100.0, 50) is None  # 1 - 100 * 0.5 / 50 == 0
    assert fused._optimizer.fused(100.0, 49) is not None
