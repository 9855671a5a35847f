#!/usr/bin/env bash
# The JAX backends on the lent GPU machine, in ONE device call (README: "GPU check").
#
#   make gpu-check-prepare        here: the wheels the offline machine lacks + MNIST, in .gpu-check/
#   then the device tool:  run(command="bash scripts/gpu_check.sh", carry=[".gpu-check"], timeout_s=560)
#
# On that machine it installs the carried wheels offline (pip --no-index) beside the image's own
# packages, puts MNIST in a data dir, runs the JAX tests on the GPU (FCNN_TEST_DEVICE=gpu),
# `fcnn bench backends=[jax,jax-grad] device=gpu`, the cost of one compiled epoch
# (scripts/gpu_epoch_cost.py) and `fcnn train experiment=ex5_3 device=gpu`. Results land flat
# in $OUT, 8 files: log.txt env.txt pytest.txt bench.md bench.json epoch_cost.json
# ex5_3_metrics.json ex5_3_curves.csv. Each step has its own time limit (under 9 minutes in all,
# 3 to 4 expected), so one that hangs costs only its share and the others still report.
#
#   scripts/gpu_check.sh --dry-run    (make gpu-check-dry-run) the same steps on this machine's CPU,
#       in a fresh virtual environment that holds only the device image's packages, with tiny
#       sizes: digits for the bench and the epoch timing, ex5_3 on MNIST cut to one epoch of [32].
#
# Environment: OUT (default outputs/gpu_check), GPU_CHECK_DIR (default .gpu-check),
# GPU_CHECK_PYTHON (default python3, the image's Python), PYTHON (the dry run's builder: .venv's).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PREP=${GPU_CHECK_DIR:-$REPO/.gpu-check}
OUT=${OUT:-$REPO/outputs/gpu_check}
DRY=0
[[ ${1:-} == --dry-run ]] && DRY=1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if ((DRY)); then
    DEVICE=cpu
    PYTEST_ARGS=(-k "learns_digits or float64")
    BENCH_ARGS=(dataset=digits repeats=1 warmup=0 predict_repeats=1 floor_matmul_size=512)
    COST_ARGS=(--dataset digits --repeats 1 --matmul-size 256 --batches 10,1000)
    TRAIN_ARGS=(max_epochs=1 "struct=[32]")
    SCALE=4  # a shared 2-core machine compiles slowly: the limits guard hangs, not speed
else
    DEVICE=gpu
    PYTEST_ARGS=()
    BENCH_ARGS=()
    COST_ARGS=()
    TRAIN_ARGS=()
    SCALE=1
fi

declare -a SUMMARY=()
STATUS=0
LIMIT=60
# step NAME SECONDS FUNCTION: run a step, note its outcome and time; its commands run under T.
step() {
    local name=$1 start rc
    LIMIT=$(($2 * SCALE))
    shift 2
    echo "=== $name (limit ${LIMIT}s)"
    start=$SECONDS
    "$@"
    rc=$?
    SUMMARY+=("$(printf '%-8s %-10s %4ds' "$name" "$( ((rc == 0)) && echo ok || echo "FAILED($rc)")" $((SECONDS - start)))")
    ((rc == 0)) || STATUS=1
    return $rc
}
# T COMMAND...: the command under the current step's time limit.
T() { timeout --kill-after=10 "$LIMIT" "$@"; }

install() {
    if ((DRY)); then  # the device image, imitated: a fresh venv with the image's packages only
        PY=$(T "${PYTHON:-$REPO/.venv/bin/python}" scripts/gpu_check_prepare.py --image-venv "$WORK/image") || return 1
        if "$PY" -c 'import hydra' 2>/dev/null; then echo "the imitated image already has hydra"; return 1; fi
    fi
    T "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --disable-pip-version-check \
        --target "$WORK/site" "$PREP"/wheels/*.whl || return 1
    # From outside the tree, as the bench and train steps run: the installed copy.
    (cd "$WORK" && "$PY" -c 'import fcnn_cli, hydra, omegaconf, mnist; print("fcnn", fcnn_cli.__version__, "from", fcnn_cli.__file__)')
}

data() {
    mkdir -p "$FCNN_DATA_DIR/mnist"
    cp "$PREP"/mnist/*-ubyte.gz "$FCNN_DATA_DIR/mnist/" || return 1
    # Every file whole (gzip's CRC): a broken transfer stops here, not in the middle of a run.
    T "$PY" -c 'import gzip, sys; [gzip.open(f).read() for f in sys.argv[1:]]' "$FCNN_DATA_DIR"/mnist/*.gz || return 1
    ls -l "$FCNN_DATA_DIR/mnist"
}

environment() {
    {
        echo "python: $("$PY" -VV)"
        "$PY" -m pip list --disable-pip-version-check 2>/dev/null \
            | grep -iE '^(jax|jaxlib|jax-cuda[0-9]+-(plugin|pjrt)|numpy|scikit-learn|matplotlib|rich|pytest) ' || true
        "$PY" -c 'import hydra, omegaconf; print("hydra-core", hydra.__version__, "omegaconf", omegaconf.__version__)'
        T "$PY" -c 'import jax; print("jax devices:", jax.devices())'
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
        echo "cpus: $(nproc)"
    } 2>&1 | tee "$OUT/env.txt"
}

tests() {
    # Each test process would otherwise take 75% of the GPU's memory, and a test's `fcnn`
    # subprocess would then find none left.
    FCNN_TEST_DEVICE=$DEVICE XLA_PYTHON_CLIENT_PREALLOCATE=false \
        T "$PY" -m pytest -q -p no:cacheprovider "${PYTEST_ARGS[@]}" \
        tests/unit/test_jax_backends.py tests/unit/test_agreement.py 2>&1 | tee "$OUT/pytest.txt"
    return "${PIPESTATUS[0]}"
}

benchmark() {
    (cd "$WORK" && T "$PY" -m fcnn_cli bench "backends=[jax,jax-grad]" "device=$DEVICE" \
        "${BENCH_ARGS[@]}" hydra.run.dir="$WORK/bench") || return 1
    cp "$WORK/bench/bench.json" "$WORK/bench/bench.md" "$OUT/"
}

epoch_cost() {
    T "$PY" scripts/gpu_epoch_cost.py --device "$DEVICE" "${COST_ARGS[@]}" \
        --bench "$WORK/bench/bench.json" --out "$OUT/epoch_cost.json"
}

ex5_3() {
    (cd "$WORK" && T "$PY" -m fcnn_cli train experiment=ex5_3 "device=$DEVICE" progress=false \
        "${TRAIN_ARGS[@]}" hydra.run.dir="$WORK/ex5_3") || return 1
    cp "$WORK/ex5_3/metrics.json" "$OUT/ex5_3_metrics.json"
    cp "$WORK/ex5_3/curves.csv" "$OUT/ex5_3_curves.csv"
}

main() {
    echo "gpu_check: device=$DEVICE prepared=$PREP out=$OUT dry_run=$DRY"
    [[ -d $PREP/wheels && -d $PREP/mnist ]] || { echo "gpu_check: $PREP is missing; run make gpu-check-prepare"; return 1; }
    PY=${GPU_CHECK_PYTHON:-python3}
    export PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH} FCNN_DATA_DIR=$WORK/data PYTHONUNBUFFERED=1 MPLCONFIGDIR=$WORK/mpl
    step install 60 install || { printf '%s\n' "${SUMMARY[@]}"; return 1; }
    step data 30 data
    step env 40 environment
    step tests 120 tests
    step bench 120 benchmark
    step cost 90 epoch_cost
    step ex5_3 90 ex5_3
    echo "=== summary"
    printf '%s\n' "${SUMMARY[@]}"
    [[ -f $OUT/bench.md ]] && cat "$OUT/bench.md"
    [[ -f $OUT/ex5_3_metrics.json ]] && "$PY" - "$OUT/ex5_3_metrics.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"ex5_3: test {100 * m['test_acc']:.2f}% on {m['device']}, {m['epochs_completed']} epochs, "
      f"fit {m['fit_seconds']:.2f} s, compile {m['compile_seconds']:.2f} s, "
      f"predict {1e3 * m['predict_seconds']:.1f} ms")
EOF
    return $STATUS
}

main 2>&1 | tee "$OUT/log.txt"
exit "${PIPESTATUS[0]}"
