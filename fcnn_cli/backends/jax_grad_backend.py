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
                  dropout: Any = None) -> Any:
        import jax
        import jax.numpy as jnp

        return jax.grad(lambda p: task.mean_loss(jnp, p, x, targets, activation, dropout))(params)
