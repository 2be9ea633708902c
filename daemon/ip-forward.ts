// IPv4 forwarding must be on for anything to cross nodes (cni0 <-> the tunnel is routing), and
// IPv6 forwarding too when the network has IPv6.
// The DaemonSet's privileged init container turns it on (manifests/03-daemonset.yaml); the
// daemon itself runs without privilege, and a container runtime mounts /proc/sys read-only
// for such containers. So: read first and write only when it is off; when the write is
// refused, say exactly what to do and keep trying (the caller stays up and not ready), rather
// than exit and crash-loop with a bare EROFS.
import { readOwnSysctl, writeOwnSysctl } from '../lib/kernel/sysctl.js';
import { sleep } from '../lib/backoff.js';
import type { Logger } from './log.js';

export const IP_FORWARD = 'net.ipv4.ip_forward';

export const IP_FORWARD_FIX = 'turn on IPv4 forwarding on the host: keep the DaemonSet\'s privileged "enable-ip-forward" init container'
  + ' (manifests/03-daemonset.yaml), or run `sysctl -w net.ipv4.ip_forward=1` on the node and persist it in /etc/sysctl.d/';

/** One family's forwarding switch and what to tell an operator when it cannot be turned on. */
export interface Forwarding {
  /** for log lines */
  name: string;
  key: string;
  fix: string;
}

export const IPV4_FORWARDING: Forwarding = { name: 'ip_forward', key: IP_FORWARD, fix: IP_FORWARD_FIX };
export const IPV6_FORWARDING: Forwarding = {
  name: 'IPv6 forwarding',
  key: 'net.ipv6.conf.all.forwarding',
  // not in the init container: on a node that takes its IPv6 default route from router
  // advertisements, forwarding on needs accept_ra=2 on its uplink, an operator's decision
  fix: 'the network is dual stack or IPv6 only: run `sysctl -w net.ipv6.conf.all.forwarding=1` on the node (with accept_ra=2 on an uplink configured by router advertisements) and persist it in /etc/sysctl.d/',
};

/** Codes of a write the container may not make (read-only /proc/sys, no CAP_SYS_ADMIN, LSM). */
const REFUSED = new Set(['EROFS', 'EACCES', 'EPERM']);

export interface Sysctls {
  read(key: string): string;
  write(key: string, value: string): void;
}

const own: Sysctls = { read: readOwnSysctl, write: writeOwnSysctl };

export type ForwardState = { on: true; written: boolean } | { on: false; error: string };

/** One attempt: on already (no write), turned on now, or off with the refusal's code. */
export function ensureIpForward(sysctls: Sysctls = own, f: Forwarding = IPV4_FORWARDING): ForwardState {
  if (sysctls.read(f.key) === '1') return { on: true, written: false };
  try {
    sysctls.write(f.key, '1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && REFUSED.has(code)) return { on: false, error: `${code}: cannot write /proc/sys/${f.key.replace(/\./g, '/')}` };
    throw e;
  }
  return { on: true, written: true };
}

/**
 * Returns once forwarding is on (or the signal aborts). While it is off and cannot be set,
 * `onBlocked` carries the reason (the daemon's /readyz shows it) and the error is logged: at
 * once, then once a minute.
 */
export async function waitForIpForward(log: Logger, signal: AbortSignal, onBlocked: (why: string | undefined) => void,
  retryMs = 5000, sysctls: Sysctls = own, f: Forwarding = IPV4_FORWARDING): Promise<void> {
  let lastLog = 0;
  while (!signal.aborted) {
    const s = ensureIpForward(sysctls, f);
    if (s.on) {
      if (s.written) log.info(`${f.name} turned on`, { sysctl: f.key });
      else if (lastLog) log.info(`${f.name} is on now`, { sysctl: f.key });
      onBlocked(undefined);
      return;
    }
    onBlocked(`${f.key} is 0 and this container cannot set it`);
    if (Date.now() - lastLog >= 60_000) {
      log.error(`${f.key} is 0 and cannot be set from this container; not ready until it is 1`, { error: s.error, fix: f.fix, retryMs });
      lastLog = Date.now();
    }
    await sleep(retryMs, signal);
  }
}
