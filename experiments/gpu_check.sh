#!/usr/bin/env bash
# One prepared check of the package on a GPU machine, in under 8 minutes.
#
#   experiments/gpu_check.sh [OUT_DIR]      (from the repository root)
#
# Made for a bare lent machine that reaches no package index: the wheels it
# lacks come in .whl/ (experiments/gpu_wheels.py fetches them elsewhere).
# Installs them into a temporary folder (no virtual environment), prints the
# runtime (`deep-impression info`), runs `make test-gpu` (every device test
# on @cupy:0 and the end-to-end GPU tests) and experiments/benchmark_gpu.py,
# and writes logs and JSON to OUT_DIR (default $OUT, else runs/gpu_check),
# seven files at most. Without a GPU it says so, runs `make test-gpu`
# (which then skips every test, naming the reason) and the benchmark at tiny
# sizes on the CPU, so the script itself is checked anywhere.
#
# Environment: PYTHON (default python3), GPU_CHECK_SECONDS (the whole
# budget, default 465), GPU_CHECK_TEST_SECONDS (make test-gpu's share,
# default 300).
set -u
cd "$(dirname "$0")/.."

out=${1:-${OUT:-runs/gpu_check}}
python=${PYTHON:-python3}
budget=${GPU_CHECK_SECONDS:-465}
test_budget=${GPU_CHECK_TEST_SECONDS:-300}
start=$(date +%s)
mkdir -p "$out"
summary="$out/summary.txt"

left() { echo $((budget - ($(date +%s) - start))); }
say() { echo "gpu_check: $*" | tee -a "$summary"; }
: >"$summary"
export PYTHONUNBUFFERED=1

# 1. The wheels, into a temporary folder put before the package on the path.
site=$(mktemp -d "${TMPDIR:-/tmp}/deep-impression-site.XXXXXX")
trap 'rm -rf "$site"' EXIT
shopt -s nullglob
wheels=(.whl/*.whl)
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if ((${#wheels[@]})) && [ "$version" != 3.12 ]; then
    say "the wheels in .whl/ are for Python 3.12, $python is $version:" \
        "not installing them, using what $python already has"
elif ((${#wheels[@]})); then
    if ! timeout 120 "$python" -m pip install -q --no-index --no-deps \
            --no-compile --no-cache-dir --upgrade --target "$site" \
            "${wheels[@]}" >"$out/install.log" 2>&1; then
        say "installing ${#wheels[@]} wheels FAILED (see install.log)"
        exit 1
    fi
    say "installed ${#wheels[@]} wheels from .whl/ into $site"
else
    say "no wheels in .whl/: using what $python already has"
fi
export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$site/bin:$PATH"

# 2. The runtime.
timeout 60 "$python" -m deep_impression info >"$out/info.txt" 2>&1
info_status=$?
cat "$out/info.txt"
timeout 60 "$python" -m deep_impression info --json >"$out/info.json" \
    2>/dev/null
if [ "$info_status" -ne 0 ]; then
    say "deep-impression info FAILED (exit $info_status, see info.txt)"
fi

gpu=$(timeout 60 "$python" -c '
import cupy
n = cupy.cuda.runtime.getDeviceCount()
print(cupy.cuda.runtime.getDeviceProperties(0)["name"].decode() if n else "")
' 2>/dev/null)
if [ -n "$gpu" ]; then
    say "GPU found: $gpu"
else
    say "NO GPU FOUND (CuPy does not import or sees no GPU): make test-gpu" \
        "will skip every test, and the benchmark runs at tiny sizes on the CPU"
fi

# 3. make test-gpu, bounded (its one command directly where make is
# missing).
pytest_args='-q -rs -p no:cacheprovider'
if command -v make >/dev/null; then
    timeout -k 10 "$test_budget" make --no-print-directory test-gpu \
        SYSTEM_PYTHON=1 PYTHON="$python" PYTEST_ARGS="$pytest_args" \
        >"$out/test-gpu.log" 2>&1
else
    # shellcheck disable=SC2086
    DEEP_IMPRESSION_TEST_DEVICE=@cupy:0 timeout -k 10 "$test_budget" \
        "$python" -m pytest tests -m 'device or gpu' \
        --continue-on-collection-errors $pytest_args \
        >"$out/test-gpu.log" 2>&1
fi
tests_status=$?
tail -n 40 "$out/test-gpu.log"
counts=$(grep -E '^=*.*(passed|failed|skipped|error).* in [0-9.]+s' \
    "$out/test-gpu.log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
counts=${counts:-no summary line}
case $tests_status in
    0) say "make test-gpu passed ($counts)" ;;
    124|137) say "make test-gpu TIMED OUT after $test_budget s ($counts)" ;;
    *) say "make test-gpu FAILED (exit $tests_status; $counts)" ;;
esac

# 4. The benchmark, in what time is left.
bench_time=$(( $(left) - 10 ))
if [ "$bench_time" -lt 30 ]; then
    say "benchmark skipped: only $(left) s left"
else
    if [ -n "$gpu" ]; then
        bench_args=(--device @cupy:0 --make-store --store-clips 48)
    else
        bench_args=(--device @numpy --batchsize 2 --frame-crop 32
                    --audio-crop 1024 --clip-seconds 0.2 --frame-size 64x96
                    --repeats 2 --warmup 1)
    fi
    timeout -k 10 "$bench_time" "$python" experiments/benchmark_gpu.py \
        "${bench_args[@]}" --json "$out/benchmark_gpu.json" \
        >"$out/benchmark.log" 2>&1
    bench_status=$?
    cat "$out/benchmark.log"
    if [ "$bench_status" -eq 0 ]; then
        say "benchmark: $(grep -m1 '^device ' "$out/benchmark.log")"
    else
        say "benchmark FAILED (exit $bench_status, see benchmark.log)"
    fi
fi

say "done in $(( $(date +%s) - start )) s; logs and JSON in $out"
[ "$tests_status" -eq 0 ]
