"""Devices: which GPUs JAX can use here, and the JAX device for a `device` setting.

Kept apart from the backends so that config validation can ask "is there a GPU?" without
importing a backend module. jax itself is imported only when a function here is called.
"""

from __future__ import annotations

import logging
from typing import Any

from fcnn_cli.errors import UsageError

# JAX reports at INFO level that it found no TPU; Hydra's logging setup would print that line on
# every run (and next to the one-line errors).
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)

#: The values of the `device` setting.
DEVICES = ("cpu", "gpu", "auto")


def gpu_devices() -> list[Any]:
    """The GPUs JAX can use here (empty when none, or when jaxlib has no GPU support)."""
    import jax

    try:
        return list(jax.devices("gpu"))
    except RuntimeError:  # "Unknown backend: 'gpu' requested, but no platforms ..."
        return []


def resolve_device(name: str) -> Any:
    """The JAX device for the `device` setting: cpu, gpu, or auto (a GPU when there is one)."""
    import jax

    if name == "cpu":
        return jax.devices("cpu")[0]
    gpus = gpu_devices()
    if gpus:
        return gpus[0]
    if name == "gpu":
        raise UsageError("device", gpu_missing_message())
    return jax.devices("cpu")[0]


def gpu_missing_message() -> str:
    import jax

    platforms = sorted({d.platform for d in jax.devices()})
    return (
        f"gpu requested but JAX {jax.__version__} finds no GPU (platforms: {', '.join(platforms)}); "
        "use device=cpu or device=auto, or install jax[cuda12] on a machine with an NVIDIA GPU"
    )


def describe_device(device: Any) -> str:
    """'cpu', or 'gpu:<model>' such as 'gpu:NVIDIA H200'."""
    if device.platform == "cpu":
        return "cpu"
    return f"gpu:{device.device_kind}"
