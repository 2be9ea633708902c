#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs, builds, runs mocha.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the tests create network namespaces" >&2; exit 2; }
bash scripts/install.sh
npm test --silent
