#!/usr/bin/env bash
# Release archives of the edge host for gamer PCs: self-contained, CPU TorchSharp (kept out of CI: ~1 GB of natives).
#   bash infra/release-edge-host.sh 1.2.0            -> artifacts/release/specedge-edge-host-1.2.0-{linux-x64.tar.gz,win-x64.zip}
# CUDA variant, on a machine whose package feed serves TorchSharp-cuda-linux / TorchSharp-cuda-windows:
#   TORCH_BACKEND=cuda bash infra/release-edge-host.sh 1.2.0   (the linux-x64 build; for win-x64 the inference project
#   needs a PackageReference to TorchSharp-cuda-windows under TorchBackend=cuda, which this mirror cannot restore)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: release-edge-host.sh VERSION}
backend=${TORCH_BACKEND:-cpu}
rids=${RIDS:-linux-x64 win-x64}
out=artifacts/release
mkdir -p "$out"
for rid in $rids; do
  dir="artifacts/publish/edge-host-$rid"
  rm -rf "$dir"
  echo "== publishing edge host $version for $rid ($backend)"
  dotnet publish edge-host/SpecEdge.EdgeHost.csproj -c Release -r "$rid" --self-contained true -o "$dir" \
    -p:Version="$version" -p:TorchBackend="$backend" -nologo -v quiet -clp:ErrorsOnly
  name="specedge-edge-host-$version-$rid$([ "$backend" = cpu ] || echo "-$backend")"
  if [ "${rid%%-*}" = win ]; then
    (cd "$dir" && rm -f "../../../$out/$name.zip" && zip -qr "../../../$out/$name.zip" .)
  else
    tar -C "$dir" -czf "$out/$name.tar.gz" .
  fi
  echo "   $out/$name.*"
done
