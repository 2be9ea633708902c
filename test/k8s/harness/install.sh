#!/usr/bin/env bash
# What the real-cluster suite (npm run test:k8s) needs beyond scripts/install.sh, on Debian 12
# as root: containerd + runc (the nodes' runtime), podman + debootstrap (the images), curl,
# openssl; then the upstream components (build.sh) and the images (images.sh), both cached:
# a second run builds nothing. Needs Go (go.mod's toolchain) and the module proxy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PACKAGES=(containerd runc podman debootstrap iptables curl openssl util-linux etcd-server etcd-client gcc libc6-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts containerd as a service; the suite runs one per node on private sockets
systemctl disable --now containerd >/dev/null 2>&1 || true
command -v go >/dev/null || { echo "test/k8s needs Go (go version >= the one in $here/go.mod)" >&2; exit 1; }
bin=$("$here/build.sh" | tail -1)
"$here/images.sh" "$bin" >/dev/null
