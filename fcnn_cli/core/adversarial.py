"""Adversarial training (Goodfellow et al. 2015, "Explaining and harnessing adversarial
examples"; the L2 form of Miyato et al. 2016), written once over an array namespace xp.

Each batch is trained on the objective (1 - w) L(x) + w L(x + r): L is the task's mean loss
(with the batch's dropout masks), w is `adversarial.weight`, and r is the perturbation of size
eps (`adversarial.eps`) that raises L fastest to first order, found from the gradient g of L by
the inputs at the current weights: eps sign(g) in the max norm (Goodfellow's fast gradient sign
method, `adversarial.norm=linf`), eps g / |g| per row in the L2 norm (`l2`). r is held constant
while differentiating by the weights, as both papers do, so the gradient is the weighted sum of
two ordinary back-propagations: one on x (which also carries its error down to the inputs,
giving g) and one on x + r with the same targets and masks. Nothing is drawn at random, so a
run with it resumes bitwise and the backends agree as they do without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: adversarial.norm: the norm eps is measured in
NORMS = ("linf", "l2")

# (params, x, targets, activation, dropout, input_error) -> grads, or (grads, dL/dx) when
# input_error is true
InputGradientFn = Callable[..., Any]


def perturbation(xp: Any, g: Any, eps: float, norm: str) -> Any:
    """The step of size `eps` along the input gradient `g` (one row per sample) that raises the
    loss most to first order: eps sign(g) (linf), or eps g / |g|_2 row by row (l2; a row whose
    gradient is zero is not moved)."""
    if norm == "linf":
        return eps * xp.sign(g)
    length = xp.sqrt(xp.sum(g * g, axis=1, keepdims=True))
    return g * (eps / xp.maximum(length, xp.finfo(g.dtype).tiny))


def combine(xp: Any, clean: Any, adversarial: Any, weight: float) -> Any:
    """(1 - weight) clean + weight adversarial, pair by pair: the objective's gradient."""
    return [((1 - weight) * cw + weight * aw, (1 - weight) * cb + weight * ab)
            for (cw, cb), (aw, ab) in zip(clean, adversarial, strict=True)]


def training_gradients(gradients: InputGradientFn, xp: Any, eps: float, norm: str,
                       weight: float) -> Callable[..., Any]:
    """`gradients` (of the task's mean loss, able to return the inputs' gradient as well) made
    into the gradients of the adversarial objective, with the same arguments."""

    def adversarial_gradients(params: Any, x: Any, targets: Any, activation: str,
                              dropout: Any = None) -> Any:
        clean, g = gradients(params, x, targets, activation, dropout, input_error=True)
        moved = x + perturbation(xp, g, eps, norm)
        return combine(xp, clean, gradients(params, moved, targets, activation, dropout), weight)

    return adversarial_gradients
