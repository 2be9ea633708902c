// IPv4 forwarding must be on for anything to cross nodes (cni0 <-> the tunnel is routing).
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

/** Codes of a write the container may not make (read-only /proc/sys, no CAP_SYS_ADMIN, LSM). */
const REFUSED = new Set(['EROFS', 'EACCES', 'EPERM']);

export interface Sysctls {
  read(key: string): string;
  write(key: string, value: string): void;
}

const own: Sysctls = { read: readOwnSysctl, write: writeOwnSysctl };

export type ForwardState = { on: true; written: boolean } | { on: false; error: string };

/** One attempt: on already (no write), turned on now, or off with the refusal's code. */
export function ensureIpForward(sysctls: Sysctls = own): ForwardState {
  if (sysctls.read(IP_FORWARD) === '1') return { on: true, written: false };
  try {
    sysctls.write(IP_FORWARD, '1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && REFUSED.has(code)) return { on: false, error: `${code}: cannot write /proc/sys/net/ipv4/ip_forward` };
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
  retryMs = 5000, sysctls: Sysctls = own): Promise<void> {
  let lastLog = 0;
  while (!signal.aborted) {
    const s = ensureIpForward(sysctls);
    if (s.on) {
      if (s.written) log.info('ip_forward turned on', { sysctl: IP_FORWARD });
      else if (lastLog) log.info('ip_forward is on now', { sysctl: IP_FORWARD });
      onBlocked(undefined);
      return;
    }
    onBlocked(`${IP_FORWARD} is 0 and this container cannot set it`);
    if (Date.now() - lastLog >= 60_000) {
      log.error(`${IP_FORWARD} is 0 and cannot be set from this container; not ready until it is 1`, { error: s.error, fix: IP_FORWARD_FIX, retryMs });
      lastLog = Date.now();
    }
    await sleep(retryMs, signal);
  }
}
