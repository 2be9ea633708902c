#!/usr/bin/env bash
# Installs everything twill needs on a fresh Debian 12 machine (as root), then builds it.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd for the demo and the tests; Debian's reference CNI plugins for the benchmark and the
# portmap chaining test; iproute2/iptables/util-linux for the kernel work; ping/iperf3 for
# the demo's and tests' traffic; binutils for stripping the single executables; gcc and
# libc6-dev (with linux-libc-dev's netlink headers) for the CNI plugin's netlink addon and
# twilld's TUN/TAP addon; GNU time for the benchmarks' peak-RSS figures (bench:cni,
# bench:memory); tcpdump for the userspace-VXLAN interop test's underlay capture.
PACKAGES=(etcd-server etcd-client containernetworking-plugins iproute2 iptables iputils-ping iperf3 ethtool util-linux binutils gcc libc6-dev ca-certificates time tcpdump)
command -v npm >/dev/null || PACKAGES+=(nodejs npm)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian ships etcd as a service; the tests start their own on private ports.
systemctl disable --now etcd >/dev/null 2>&1 || true

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent

# --kubernetes: also what the real-cluster suite (npm run test:k8s) needs: containerd, podman,
# the upstream Kubernetes components built with Go and the images (cached after the first run)
if [ "${1:-}" = --kubernetes ]; then
  bash test/k8s/harness/install.sh
fi
