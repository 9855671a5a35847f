"""Example 5.4: only the forward pass and the task's loss are written; `jax.grad` derives the
gradients. The compiled epoch, scoring and prediction are those of the jax backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fcnn_cli.backends.jax_backend import CompiledEpochBackend

if TYPE_CHECKING:
    from fcnn_cli.core.tasks import Task


class JaxGradBackend(CompiledEpochBackend):
    """Example 5.4: gradients of the task's written loss by automatic differentiation."""

    name = "jax-grad"

    @staticmethod
    def gradients(task: Task, params: Any, x: Any, targets: Any, activation: str,
                  dropout: Any = None, input_error: bool = False) -> Any:
        import jax
        import jax.numpy as jnp

        def loss(p: Any, inputs: Any) -> Any:
            return task.mean_loss(jnp, p, inputs, targets, activation, dropout)

        # by the inputs as well where adversarial training asks: (grads, dL/dx)
        return jax.grad(loss, argnums=(0, 1) if input_error else 0)(params, x)
