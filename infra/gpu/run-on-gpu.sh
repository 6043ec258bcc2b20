#!/usr/bin/env bash
# Runs on the GPU machine (one NVIDIA GPU, PyTorch with CUDA, CMake, ninja, transformers; no .NET, no network), from the
# repository root, with infra/gpu/out carried (see prepare.sh). Under 8 minutes:
#   1. unpack the bundle; find libtorch in python3's torch install
#   2. the LibTorchSharp glue: carried in infra/gpu/out/glue, or built here against this libtorch (first run; the
#      result lands in $OUT/glue to be brought back and carried next time)
#   3. equivalence: random test models, CPU vs CUDA logits (fp32), then transformers on the same checkpoints
#   4. forward / speculative throughput at real Qwen3 widths in bf16
# Results (JSON, logs) go to $OUT (default infra/gpu/out/results).
#
# --cpu-dry-run: the same steps on a machine without a GPU, as far as they can go: CPU device, tiny widths, and each
# step that needs what this machine lacks (python torch, transformers, cmake, a GPU) reported as skipped.
set -uo pipefail
cd "$(dirname "$0")/../.."
dry=0; [ "${1:-}" = "--cpu-dry-run" ] && dry=1
OUT=${OUT:-infra/gpu/out/results}
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/steps.log"; }
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "unpack infra/gpu/out/bundle.tar.xz"
xz -dc infra/gpu/out/bundle.tar.xz | tar -x -C "$work" || { log "FAIL: no bundle (run infra/gpu/prepare.sh first)"; exit 1; }
app="$work/publish/SpecEdge.GpuBench"

torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)
torch_cmake=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
torch_version=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null || echo "none")
log "python torch: $torch_version; lib: ${torch_lib:-none}"

glue=infra/gpu/out/glue/libLibTorchSharp.so
if [ -f "$glue" ]; then
  log "glue: carried $glue"
elif [ -n "$torch_cmake" ] && command -v cmake >/dev/null; then
  log "glue: building LibTorchSharp against $torch_cmake"
  gen=""; command -v ninja >/dev/null && gen="-G Ninja"
  # -Werror is TorchSharp's own setting; a newer libtorch may warn where 2.10 did not.
  if cmake -S "$work/torchsharp/Native" -B "$work/glue-build" $gen -DCMAKE_BUILD_TYPE=Release \
       -DLIBTORCH_PATH="$torch_cmake" -DCMAKE_PREFIX_PATH="$torch_cmake" -DCMAKE_CXX_FLAGS="-Wno-error" \
       > "$OUT/glue-build.log" 2>&1 \
     && cmake --build "$work/glue-build" -j "$(nproc)" >> "$OUT/glue-build.log" 2>&1; then
    built=$(find "$work/glue-build" -name libLibTorchSharp.so | head -1)
    mkdir -p "$OUT/glue" && cp "$built" "$OUT/glue/" && glue="$OUT/glue/libLibTorchSharp.so"
    log "glue: built in $(( $(date +%s) - start )) s; bring back $OUT/glue/libLibTorchSharp.so and carry it as infra/gpu/out/glue/"
  else
    log "FAIL: glue build (see $OUT/glue-build.log, last lines below); trying TorchSharp's prebuilt 2.10 glue on this libtorch"
    tail -20 "$OUT/glue-build.log"
    glue="$work/publish/prebuilt-libLibTorchSharp.so"
  fi
else
  log "SKIP: glue build (needs python torch and cmake)"
  glue=""
fi

if [ -n "$glue" ]; then
  cp "$glue" "$work/publish/libLibTorchSharp.so"
  export LD_LIBRARY_PATH="$torch_lib:$work/publish:${LD_LIBRARY_PATH:-}"
  device=cuda
elif [ $dry = 1 ]; then
  # The dry run borrows the CPU libtorch of the NuGet cache and the bundle's prebuilt glue (patched for Debian's libstdc++).
  native=$(ls -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/libtorch-cpu-linux-x64/*/runtimes/linux-x64/native 2>/dev/null | head -1)
  [ -n "$native" ] || { log "FAIL: dry run needs the libtorch-cpu NuGet package (dotnet build once)"; exit 1; }
  cp "$work/publish/prebuilt-libLibTorchSharp.so" "$work/publish/libLibTorchSharp.so"
  export LD_LIBRARY_PATH="$native:$work/publish:${LD_LIBRARY_PATH:-}"
  device=cpu
  log "dry run: CPU libtorch from $native"
else
  log "FAIL: no glue"; exit 1
fi
[ $dry = 1 ] && device=cpu

log "equivalence: CPU vs $device on random test models"
"$app" equivalence --device "$device" --out "$OUT" 2>&1 | tee -a "$OUT/steps.log"
eq=${PIPESTATUS[0]}
log "equivalence exit $eq"

if python3 -c 'import transformers, torch' 2>/dev/null; then
  log "transformers: independent logits on the same checkpoints"
  python3 "$work/transformers_check.py" "$OUT" 2>&1 | tee -a "$OUT/steps.log"
  log "transformers exit ${PIPESTATUS[0]}"
else
  log "SKIP: transformers check (python3 has no torch/transformers)"
fi

if [ $dry = 1 ]; then
  log "forward (dry run): qwen3-0.6b width, 1 and 2 layers, bf16 on CPU, 2 repeats, prefix 128"
  "$app" forward --device cpu --dtype bf16 --widths qwen3-0.6b --layers 1,2 --prefix 128 --repeats 2 --out "$OUT" 2>&1 | tee -a "$OUT/steps.log"
else
  log "forward: qwen3-1.7b and qwen3-8b widths, 2 and 4 layers, bf16"
  "$app" forward --device cuda --dtype bf16 --widths qwen3-1.7b,qwen3-8b,qwen3-14b --layers 2,4 --prefix 1024 --repeats 10 --out "$OUT" 2>&1 | tee -a "$OUT/steps.log"
fi
log "forward exit ${PIPESTATUS[0]}; total $(( $(date +%s) - start )) s"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.csv" 2>&1
exit "$eq"
