"""Subnormal floats flushed to zero while the numpy backend trains, as XLA does on the CPU.

Adam's first moment decays by beta1 = 0.9 every step, so the moments of weights whose gradient
has gone quiet (dead ReLU units, MNIST's rarely-lit border pixels) sink below float32's smallest
normal number (1.2e-38) within a few hundred steps. x86 CPUs handle such subnormal operands in
microcode, a hundred cycles or more each: on the lab's timing job 2.6% of Adam's moments were
subnormal by the third epoch and numpy's update took 1.8x as long as in the first. XLA's CPU
runtime, and so JAX on the CPU, sets the flush-to-zero (FTZ) and denormals-are-zero (DAZ) modes
while it computes; `flush_subnormals` sets the same modes for the calling thread, so numpy and
JAX round the same way and neither pays for numbers that small.

The modes live in a control register of each thread (MXCSR on x86-64, FPCR on AArch64), read and
written through the C library's `fegetenv`/`fesetenv` (glibc's `fenv_t` layout). Elsewhere
(another C library or CPU) the context changes nothing. Float64 values never come near the
subnormal range (2.2e-308) in training, so float64 results are the same with and without it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
import sys
from collections.abc import Iterator

# glibc's fenv_t: where the SSE control word sits, and the bits that mean FTZ and DAZ.
_LAYOUTS = {
    "x86_64": (32, 28, (1 << 15) | (1 << 6)),  # fenv_t is 32 bytes, MXCSR at 28: FTZ | DAZ
    "aarch64": (8, 0, 1 << 24),  # fenv_t is {fpcr, fpsr}: FPCR.FZ
}


@functools.cache
def _libm() -> tuple[ctypes.CDLL, tuple[int, int, int]] | None:
    layout = _LAYOUTS.get(platform.machine().lower())
    if layout is None or not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("m")
    return (ctypes.CDLL(name), layout) if name else None


def supported() -> bool:
    """Whether `flush_subnormals` changes anything on this machine."""
    return _libm() is not None


@contextlib.contextmanager
def flush_subnormals() -> Iterator[None]:
    """Within the block, this thread's float operations flush subnormal inputs and results to
    zero; the previous floating-point environment is restored on the way out."""
    found = _libm()
    if found is None:
        yield
        return
    libm, (size, offset, bits) = found
    saved = (ctypes.c_uint8 * size)()
    if libm.fegetenv(saved) != 0:
        yield
        return
    flushed = (ctypes.c_uint8 * size).from_buffer_copy(saved)
    word = ctypes.c_uint32.from_buffer(flushed, offset)
    word.value |= bits
    libm.fesetenv(flushed)
    try:
        yield
    finally:
        libm.fesetenv(saved)
