// Defaults of the Kubernetes flags, in a module with no imports: daemon/options.ts needs them
// at startup, and must not pull in the Kubernetes client (4 MB of code, ~100 ms) for nodes
// that never talk to an API server.
/** flannel's annotation prefix: flannel and twill nodes read each other's Nodes */
export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';
/** where flannel's DaemonSet mounts net-conf.json */
export const DEFAULT_NET_CONF_PATH = '/etc/kube-flannel/net-conf.json';
