#!/usr/bin/env bash
# The JAX backends on a GPU: installs jax[cuda12] into .venv if JAX sees no GPU, runs the JAX
# tests with FCNN_TEST_DEVICE=gpu, then `fcnn bench` on the GPU. Everything lands in $OUT.
#   OUT=/tmp/gpu scripts/gpu_check.sh [extra bench overrides, e.g. dataset=digits]
# The bench uses MNIST: have it in the data cache ($FCNN_DATA_DIR) or pass dataset=digits.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu_check}
mkdir -p "$OUT"
PY=.venv/bin/python
has_gpu() { "$PY" -c 'import jax, sys; sys.exit(not any(d.platform == "gpu" for d in jax.devices()))' 2>/dev/null; }
if ! has_gpu; then
    version=$("$PY" -c 'import jax; print(jax.__version__)')
    "$PY" -m pip install -q "jax[cuda12]==$version" 2>&1 | tail -3 | tee "$OUT/pip.txt"
    has_gpu || { echo "gpu_check: JAX still sees no GPU" | tee "$OUT/FAILED"; exit 1; }
fi
"$PY" -c 'import jax; print(jax.__version__, jax.devices())' | tee "$OUT/devices.txt"
status=0
FCNN_TEST_DEVICE=gpu "$PY" -m pytest -q -p no:cacheprovider \
    tests/test_jax_backends.py tests/test_agreement.py 2>&1 | tee "$OUT/pytest.txt"
status=$((status | PIPESTATUS[0]))
.venv/bin/fcnn bench backends=[jax,jax-grad] device=gpu "$@" hydra.run.dir="$OUT/bench" 2>&1 \
    | tee "$OUT/bench.txt"
status=$((status | PIPESTATUS[0]))
exit $status
