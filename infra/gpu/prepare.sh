#!/usr/bin/env bash
# Prepares what infra/gpu/run-on-gpu.sh needs on a GPU machine that has PyTorch but no .NET and no network:
#   infra/gpu/out/bundle.tar.xz   a self-contained publish of tools/SpecEdge.GpuBench built against TorchSharp's managed
#                                 code only (TorchBackend=external: no libtorch inside), TorchSharp's native glue source
#                                 (src/Native of dotnet/TorchSharp v0.107.0), the run script and transformers_check.py.
#   infra/gpu/out/glue/           a LibTorchSharp built on the GPU machine by a first run (pass --glue FILE), carried by the
#                                 second run so it does not compile again.
# Nothing here is committed (infra/gpu/out/ is ignored). Carry infra/gpu/out (< 64 MiB) with the GPU run.
#
# Usage: bash infra/gpu/prepare.sh --torchsharp-src PATH [--glue libLibTorchSharp.so]
#   PATH: a checkout of dotnet/TorchSharp at v0.107.0, or its bare git directory (HEAD at v0.107.0).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=""; glue=""
while [ $# -gt 0 ]; do
  case "$1" in
    --torchsharp-src) src="$2"; shift 2 ;;
    --glue) glue="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$src" ] || { echo "--torchsharp-src is required (TorchSharp v0.107.0 source, for the native glue)" >&2; exit 2; }
out=infra/gpu/out
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -f "$out/bundle.tar.xz"
mkdir -p "$out"

echo "== publish tools/SpecEdge.GpuBench (self-contained, linux-x64, TorchBackend=external)"
dotnet publish tools/SpecEdge.GpuBench -c Release -r linux-x64 --self-contained -p:TorchBackend=external \
  -p:PublishTrimmed=false -p:DebugType=none -o "$stage/publish" 2>&1 | grep -E "error|->" || true
[ -x "$stage/publish/SpecEdge.GpuBench" ] || { echo "publish failed" >&2; exit 1; }
# TorchSharp's own glue is built against libtorch 2.10: kept aside (the CPU dry run uses it, and the GPU run tries it
# only if building the glue against the machine's libtorch fails); the run puts the right one in place.
mv "$stage/publish/libLibTorchSharp.so" "$stage/publish/prebuilt-libLibTorchSharp.so"

echo "== TorchSharp native glue source"
mkdir -p "$stage/torchsharp"
if [ -d "$src/src/Native" ]; then
  cp -r "$src/src/Native" "$stage/torchsharp/"
else
  git --git-dir="$src" archive HEAD src/Native | tar -x -C "$stage/torchsharp" --strip-components=1
fi
[ -f "$stage/torchsharp/Native/LibTorchSharp/CMakeLists.txt" ] || { echo "no src/Native/LibTorchSharp in $src" >&2; exit 1; }
grep -q "<MinorVersion>107</MinorVersion>" "$src/build/BranchInfo.props" 2>/dev/null \
  || git --git-dir="$src" show HEAD:build/BranchInfo.props 2>/dev/null | grep -q "<MinorVersion>107</MinorVersion>" \
  || echo "warning: could not confirm the TorchSharp source is 0.107 (the managed TorchSharp.dll is 0.107.0)" >&2

cp infra/gpu/run-on-gpu.sh infra/gpu/transformers_check.py "$stage/"
echo "== compress"
tar -C "$stage" -cf - . | xz -T0 -6 > "$out/bundle.tar.xz"
if [ -n "$glue" ]; then
  mkdir -p "$out/glue" && cp "$glue" "$out/glue/libLibTorchSharp.so"
fi
size=$(du -cb "$out" | tail -1 | cut -f1)
echo "bundle: $(du -h "$out/bundle.tar.xz" | cut -f1); all of $out: $((size / 1048576)) MiB (limit 64 MiB carried)"
[ "$size" -lt $((64 * 1048576)) ] || { echo "infra/gpu/out is over 64 MiB" >&2; exit 1; }
