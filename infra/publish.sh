#!/usr/bin/env bash
# Self-contained publishes that the container images and the VM install script copy (kept out of CI: large).
#   bash infra/publish.sh silo [--gpu]     -> artifacts/publish/silo (or silo-gpu: TorchSharp-cuda, on a machine that can restore it)
#   bash infra/publish.sh edge-host        -> artifacts/publish/edge-host
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: publish.sh silo|edge-host [--gpu]}
gpu=${2:-}
case "$what" in
  silo) project=silo/SpecEdge.Silo.csproj ;;
  edge-host) project=edge-host/SpecEdge.EdgeHost.csproj ;;
  *) echo "unknown target '$what': silo or edge-host" >&2; exit 2 ;;
esac
out="artifacts/publish/$what"
props=()
if [ "$gpu" = "--gpu" ]; then out="$out-gpu"; props+=(-p:TorchBackend=cuda); fi
rm -rf "$out"
dotnet publish "$project" -c Release -r linux-x64 --self-contained true -o "$out" "${props[@]}" -nologo -v quiet -clp:ErrorsOnly
echo "published $what to $out ($(du -sh "$out" | cut -f1))"
