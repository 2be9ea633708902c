#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): installs, builds, and runs a local
# three-node twill cluster in network namespaces. Extra arguments go to the demo
# (--nodes N, --pods-per-node N, --backend vxlan|host-gw|userspace-vxlan, --ip-family ipv4|dual|ipv6, --keep).
# With --kubernetes: a real Kubernetes cluster instead (upstream components built from
# test/k8s/harness, twill installed with kubectl apply -f manifests/), removed on exit
# (--nodes N, --ip-family ipv4|dual, --no-wait).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the demo creates network namespaces" >&2; exit 2; }
if [ "${1:-}" = --kubernetes ]; then
  shift
  bash scripts/install.sh --kubernetes
  exec node_modules/.bin/node build/test/k8s/demo.js "$@"
fi
bash scripts/install.sh
exec node_modules/.bin/node build/scripts/demo.js "$@"
