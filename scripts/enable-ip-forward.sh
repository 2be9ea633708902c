#!/bin/sh
# Turns on IPv4 forwarding in the host's network namespace: the DaemonSet's first init
# container runs this (hostNetwork, privileged: only a privileged container gets a writable
# /proc/sys). twilld itself runs without privilege, reads the value and waits, not ready,
# while it is 0. Writes only when it is off, so a host that already forwards sees no write.
set -eu
f=/proc/sys/net/ipv4/ip_forward
if [ "$(cat "$f")" = 1 ]; then
  echo "enable-ip-forward: net.ipv4.ip_forward is already 1"
  exit 0
fi
if ! echo 1 > "$f"; then
  echo "enable-ip-forward: cannot write $f; is this container privileged?" >&2
  exit 1
fi
echo "enable-ip-forward: net.ipv4.ip_forward set to 1"
