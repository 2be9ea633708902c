#!/bin/sh
# Installs one file onto the host for the kubelet (run by the DaemonSet's init containers):
#   install-cni.sh [--mode MODE] [--if-missing] SOURCE DEST
# The file is copied to a temp file in DEST's directory and renamed over DEST. A rename within
# one filesystem is atomic, so the kubelet or a container runtime never executes a half-copied
# plugin or parses a half-written conflist, and replacing a plugin that is running at that
# moment works (writing into it in place fails with "Text file busy").
# --if-missing leaves an existing DEST alone (e.g. the host's own portmap).
set -eu

mode=0755
if_missing=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) [ $# -ge 2 ] || { echo "install-cni: --mode needs a value" >&2; exit 2; }; mode=$2; shift 2 ;;
    --if-missing) if_missing=1; shift ;;
    --) shift; break ;;
    -*) echo "install-cni: unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "usage: install-cni.sh [--mode MODE] [--if-missing] SOURCE DEST" >&2; exit 2; }
src=$1
dest=$2
dir=$(dirname "$dest")

[ -f "$src" ] || { echo "install-cni: source $src does not exist" >&2; exit 1; }
[ -s "$src" ] || { echo "install-cni: source $src is empty" >&2; exit 1; }
if [ "$if_missing" = 1 ] && [ -e "$dest" ]; then
  echo "install-cni: $dest exists, kept"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp "$dir/.$(basename "$dest").XXXXXX")
# whatever fails after this point, no temp file is left behind in the host directory
trap 'rm -f "$tmp"' EXIT INT TERM
# -L: the image's program names are symlinks to one executable; the host gets the file itself
cp -L "$src" "$tmp"
chmod "$mode" "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT INT TERM
echo "install-cni: installed $dest"
