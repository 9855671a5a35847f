"""Example 5.4: only the forward pass and the cross-entropy are written; `jax.grad` derives the
gradients. The compiled epoch, scoring and prediction are those of the jax backend."""

from __future__ import annotations

from typing import Any

from fcnn_cli import model
from fcnn_cli.backends.jax_backend import CompiledEpochBackend


def _loss(params: Any, x: Any, y_onehot: Any, activation: str) -> Any:
    import jax.numpy as jnp

    return model.cross_entropy(jnp, params, x, y_onehot, activation)


class JaxGradBackend(CompiledEpochBackend):
    """Example 5.4: gradients of the written cross-entropy by automatic differentiation."""

    name = "jax-grad"

    @staticmethod
    def gradients(params: Any, x: Any, y_onehot: Any, activation: str) -> Any:
        import jax

        return jax.grad(_loss)(params, x, y_onehot, activation)
