#!/usr/bin/env bash
# Installs a silo on a plain VM as a systemd service, from a self-contained publish (bash infra/publish.sh silo --gpu).
#   sudo bash infra/vm/install.sh [PUBLISH_DIR]     default: artifacts/publish/silo-gpu
# Then edit /etc/specedge/silo.env, put keys.json and tls/ under /etc/specedge, the model under
# /var/lib/specedge/models/target, and: sudo systemctl enable --now specedge-silo
# PREFIX (default /) installs under another root, for a dry run or a test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
publish="${1:-$here/../../artifacts/publish/silo-gpu}"
prefix="${PREFIX:-}"
[ -x "$publish/SpecEdge.Silo" ] || { echo "no self-contained silo publish in '$publish' (bash infra/publish.sh silo --gpu)" >&2; exit 1; }

if [ -z "$prefix" ]; then
  id specedge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin specedge
  # Access to the GPU device nodes on distributions that give them to the video/render groups.
  for g in video render; do getent group "$g" >/dev/null && usermod -aG "$g" specedge; done
fi

install -d -m 0755 "$prefix/opt/specedge"
rm -rf "$prefix/opt/specedge/silo.new"
cp -a "$publish" "$prefix/opt/specedge/silo.new"
# Swap in the new build in one rename, keeping the previous one for a rollback.
if [ -d "$prefix/opt/specedge/silo" ]; then rm -rf "$prefix/opt/specedge/silo.previous"; mv "$prefix/opt/specedge/silo" "$prefix/opt/specedge/silo.previous"; fi
mv "$prefix/opt/specedge/silo.new" "$prefix/opt/specedge/silo"

install -d -m 0750 "$prefix/etc/specedge" "$prefix/etc/specedge/tls" "$prefix/var/lib/specedge/models"
[ -e "$prefix/etc/specedge/silo.env" ] || install -m 0600 "$here/silo.env" "$prefix/etc/specedge/silo.env"
install -D -m 0644 "$here/specedge-silo.service" "$prefix/etc/systemd/system/specedge-silo.service"
if [ -z "$prefix" ]; then
  chown -R root:specedge /etc/specedge && chown specedge:specedge /etc/specedge/silo.env
  systemctl daemon-reload
  echo "installed; edit /etc/specedge/silo.env, then: systemctl enable --now specedge-silo"
else
  echo "installed under $prefix"
fi
