// Errors of the TUN/TAP layer, one class per situation a caller handles differently. The
// addon reports errno, its name and the step (syscall); the mapping branches on those only.
export interface TunErrorContext {
  op: string;
  device: string;
  netns?: string | null;
}

export class TunError extends Error {
  constructor(message: string, readonly code: string, readonly errno: number, readonly syscall: string, readonly ctx: TunErrorContext) {
    super(message);
    this.name = 'TunError';
  }
}

/** The name is taken: a device of another kind, a TUN/TAP with other flags, or (exclusive) any. */
export class TunDeviceExistsError extends TunError {
  override name = 'TunDeviceExistsError';
}

/** No CAP_NET_ADMIN (in the device's namespace) or no access to /dev/net/tun. */
export class TunPermissionError extends TunError {
  override name = 'TunPermissionError';
}

/** The kernel has no tun driver, or /dev/net/tun is missing (a container without the device). */
export class TunUnavailableError extends TunError {
  override name = 'TunUnavailableError';
}

interface AddonError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

export function tunError(e: unknown, ctx: TunErrorContext): Error {
  const a = e as AddonError;
  if (typeof a?.errno !== 'number') return e as Error;
  const code = a.code ?? 'EUNKNOWN';
  const syscall = a.syscall ?? '';
  const where = `${ctx.op} ${ctx.device}${ctx.netns ? ` in ${ctx.netns}` : ''}`;
  const args = [a.errno, syscall, ctx] as const;
  if (code === 'EPERM' || code === 'EACCES') {
    return new TunPermissionError(`${where}: permission denied (${code}; needs CAP_NET_ADMIN): ${a.message}`, code, ...args);
  }
  if (syscall === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) {
    return new TunUnavailableError(`${where}: no TUN/TAP support (${code}: is /dev/net/tun there and the tun driver loaded?): ${a.message}`, code, ...args);
  }
  if (syscall === 'TUNSETIFF' && (code === 'EBUSY' || code === 'EINVAL' || code === 'EEXIST')) {
    return new TunDeviceExistsError(`${where}: the device exists as another kind of device, with other flags, or is in use (${code}): ${a.message}`, code, ...args);
  }
  return new TunError(`${where}: ${a.message}`, code, ...args);
}
