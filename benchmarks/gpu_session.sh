#!/usr/bin/env bash
# What a session with the lent GPU machine runs, one part per device call (each part
# stays under the 10-minute cap; about 35 minutes in all, more than one session's 30, so
# the last, profile, may wait), in the order of what is least known:
#
#   bash benchmarks/gpu_session.sh memory     # this build's memory on the GPU (issue 6/7)
#   bash benchmarks/gpu_session.sh attention  # Pallas tests, Pallas vs cuDNN vs reference
#   bash benchmarks/gpu_session.sh chunks     # the plan's chunk budget against 256 MiB
#   bash benchmarks/gpu_session.sh lengths    # L = 128 and 2500 against the reference
#   bash benchmarks/gpu_session.sh profile    # where the GPU time goes, by model module
#
# It runs in the repository root of the device machine with the wheels of .whl/ carried
# (`run` with carry [".whl"]); results go to $OUT (JSON lines and logs), which the
# device tool brings back. Every figure it prints goes, with its command, into
# benchmarks/README.md.
set -u
case ${1:-} in
memory | attention | chunks | lengths | profile) ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh memory|attention|chunks|lengths|profile" >&2
    exit 2
    ;;
esac
OUT=${OUT:-/tmp/gpu_session_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c 'import jax; print(jax.__version__, jax.devices())' | tee -a "$OUT/gpu.txt"

step() {  # step NAME SECONDS COMMAND...: one command, its log in $OUT/NAME.log
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*"
    timeout "$seconds" "$@" 2>&1 | tee "$OUT/$name.log" | grep -v '^I0000\|^W0000' | tail -40
}

case ${1:-} in
memory)
    # XLA's own figures on the GPU (compile only), then real runs through the memory
    # plan as a user's run would go (bigger pool or unified memory when needed).
    step compiled_bf16 100 python3 benchmarks/compiled_memory.py --lengths 6000 \
        --dtype bfloat16 --chunk-mb 4
    step compiled_f32 100 python3 benchmarks/compiled_memory.py --lengths 6000 \
        --dtype float32 --chunk-mb 4
    step run_bf16_6000 360 python3 benchmarks/gpu_memory.py --lengths 6000 \
        --dtype bfloat16 --plan --deadline 350 --out "$OUT/memory.jsonl"
    ;;
attention)
    step pallas_tests 150 python3 -m pytest tests/model/test_attention_paths.py -q \
        -p no:cacheprovider -rs
    step model_384_1000 420 python3 benchmarks/gpu_model.py --lengths 384,1000 \
        --variants ours_bf16_pallas,ours_bf16_cudnn,ref_stock --num-recycle 3 --no-warm \
        --deadline 400 --out "$OUT/gpu_384_1000.jsonl"
    ;;
chunks)
    # Users get the memory plan's budget (4096 MiB at L = 1000 on 80 GB since
    # 2026-11-23, at most 256 MiB before: 12,332 chunk-loop iterations per pass against
    # 640, benchmarks/chunk_steps.py). What does the larger budget gain at L = 1000?
    step chunks_plan 200 python3 benchmarks/gpu_model.py --lengths 1000 \
        --variants ours_bf16 --num-recycle 1 --no-warm --deadline 190 \
        --out "$OUT/gpu_chunks_plan.jsonl"
    step chunks_256 200 python3 benchmarks/gpu_model.py --lengths 1000 \
        --variants ours_bf16 --num-recycle 1 --no-warm --deadline 190 --chunk-mb 256 \
        --out "$OUT/gpu_chunks_256.jsonl"
    ;;
lengths)
    step model_128 150 python3 benchmarks/gpu_model.py --lengths 128 \
        --variants ours_bf16,ref_stock,ours_fp32,ref_fp32 --num-recycle 3 \
        --deadline 140 --out "$OUT/gpu_128.jsonl"
    step model_2500 400 python3 benchmarks/gpu_model.py --lengths 2500 \
        --variants ours_bf16,ref_stock --num-recycle 3 --no-warm --deadline 380 \
        --out "$OUT/gpu_2500.jsonl"
    ;;
profile)
    step profile 420 python3 benchmarks/gpu_model.py --lengths 1000 \
        --variants ours_bf16,ref_stock --num-recycle 1 --no-warm --deadline 400 \
        --profile /tmp/gpu_profile
    step profile_table 100 python3 benchmarks/gpu_profile.py /tmp/gpu_profile/L1000 \
        --top 40
    ;;
esac
