"""JAX's persistent compilation cache, in fcnn's data directory.

Every `fcnn train` with a JAX backend compiles its epoch, scoring and prediction programs. For
the lab's small nets that compiling is most of a short run's time, and a sweep's jobs, a
notebook's restarted kernel and the test suite compile the same programs again and again. JAX
can keep compiled programs on disk (its `jax_compilation_cache_dir`); from the second run with
the same shapes and settings on, the programs are read instead of compiled. The executable read
is the one that was compiled, so the results are the same bits.

fcnn turns it on in `data_home()/jax/<this CPU>`:
- every program, however fast it compiled (JAX's default keeps only those over a second, which
  none of the lab's nets reach on a CPU);
- at most MAX_BYTES, the least recently used entries evicted first, under JAX's file lock, so
  that a sweep's parallel jobs never read an entry half written;
- one directory per CPU model and instruction set: XLA compiles for the CPU it runs on, and JAX's
  cache key does not name that CPU, so a home directory shared by unlike cluster nodes must not
  share entries.

A JAX_COMPILATION_CACHE_DIR of the user's own is left as it is; FCNN_JAX_CACHE=0 turns fcnn's
off.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

from fcnn_cli.paths import data_home

#: The cache's bound on disk (JAX evicts the least recently used entries beyond it).
MAX_BYTES = 512 * 2**20

_enabled: Path | None = None


def cpu_tag() -> str:
    """This machine's architecture and a digest of its CPU's model and instruction-set flags."""
    described = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags", "Features", "CPU part")):
                described += line
                if line.startswith(("flags", "Features")):
                    break
    except OSError:  # not Linux: the architecture and processor name alone
        pass
    return f"{platform.machine() or 'cpu'}-{hashlib.sha256(described.encode()).hexdigest()[:12]}"


def cache_dir() -> Path:
    """Where fcnn keeps JAX's compiled programs on this machine."""
    return data_home() / "jax" / cpu_tag()


def enable() -> Path | None:
    """Turn the cache on for this process, once, before the first program is compiled; returns
    its directory, or None where it stays off (the user's own cache, FCNN_JAX_CACHE=0, or a
    directory that cannot be made)."""
    global _enabled
    if _enabled is not None:
        return _enabled
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.environ.get("FCNN_JAX_CACHE") == "0":
        return None
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile every time, as without the cache
        return None
    import warnings

    import jax

    # An entry cut short (its writer killed, a full disk) is compiled afresh, to the same bits,
    # and JAX never rewrites it: its warning would come back on every run, with nothing for the
    # user to do but delete the directory (docs/reference/run-directory.md says so).
    warnings.filterwarnings("ignore", message="Error reading persistent compilation cache entry")
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    _enabled = directory
    return directory
