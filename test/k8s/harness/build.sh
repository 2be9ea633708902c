#!/usr/bin/env bash
# Builds the upstream Kubernetes parts the k8s suite runs, from the versions
# pinned in go.mod/go.sum: `kube` (every component in one binary, see
# cmd/kube), `e2e.test` (k8s.io/kubernetes/test/e2e), `agnhost`, and the `ginkgo` CLI of the
# ginkgo version e2e.test links (it runs the e2e specs in parallel processes); and
# `coredns` from coredns/go.mod.
# Output: $TWILL_K8S_CACHE/<key>/, key = hash of go.mod, go.sum, cmd/kube and
# the Go version; a second run with the same key builds nothing.
# Prints the directory on the last line of stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${TWILL_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twill-k8s}
k8s_version=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
key=$( { cat "$here/go.mod" "$here/go.sum" "$here/cmd/kube/main.go"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
out="$cache_root/bin-$key"
mkdir -p "$out"
log() { printf '[k8s-build] %s\n' "$*" >&2; }

# build NAME "SUBCOMMAND [FLAG]" PACKAGE [MODULE_DIR OUT_DIR]: `go SUBCOMMAND [FLAG] … PACKAGE`
# in MODULE_DIR (default: this module) unless OUT_DIR/NAME (default $out) exists.
build() {
  local name=$1 sub=$2 pkg=$3 moddir=${4:-$here} out=${5:-$out}
  if [[ -x "$out/$name" ]]; then log "$name: cached"; return; fi
  log "$name: building $pkg"
  local start=$SECONDS
  ( while sleep 60; do log "$name: still building, $((SECONDS - start)) s"; done ) &
  local ticker=$!
  local rc=0
  (cd "$moddir" && CGO_ENABLED=0 nice -n 10 go $sub -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "$pkg") || rc=$?
  kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true
  if (( rc != 0 )); then log "$name: go $sub $pkg failed with exit code $rc"; exit "$rc"; fi
  mv "$out/$name.tmp" "$out/$name"
  log "$name: built in $((SECONDS - start)) s"
  echo "$name $((SECONDS - start))" >> "$out/build-times"
}

log "Kubernetes $k8s_version, $(go version | cut -d' ' -f3), output $out"
build kube build ./cmd/kube
build agnhost build k8s.io/kubernetes/test/images/agnhost
build e2e.test "test -c" k8s.io/kubernetes/test/e2e
build ginkgo build github.com/onsi/ginkgo/v2/ginkgo
# CoreDNS, the cluster DNS add-on (the Services e2e specs reach Services by name): its own
# module (coredns/go.mod, a `tool` requirement) so its dependencies do not move Kubernetes'
dns_key=$( { cat "$here/coredns/go.mod" "$here/coredns/go.sum"; go version; } | sha256sum | cut -c1-16)
dns_out="$cache_root/coredns-$dns_key"
mkdir -p "$dns_out"
build coredns build github.com/coredns/coredns "$here/coredns" "$dns_out"
ln -sf "$dns_out/coredns" "$out/coredns"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy; do
  ln -sf kube "$out/$c"
done
echo "$out"
