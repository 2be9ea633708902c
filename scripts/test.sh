#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs, builds, runs mocha,
# then the real-cluster suite (test/k8s: Kubernetes v1.34 built from its Go modules on the first
# run, about 30 minutes; cached afterwards), on an IPv4 cluster and again, in part, on a
# dual-stack one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the tests create network namespaces" >&2; exit 2; }
bash scripts/install.sh --kubernetes
npm test --silent
npm run test:k8s --silent
npm run test:k8s:dual --silent
