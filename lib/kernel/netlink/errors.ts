// Kernel answers come back as negative errno values inside NLMSG_ERROR. The error names the
// operation in `ip` terms (what an operator would have typed), the errno by name and text,
// and the kernel's own extended-ack reason when it sent one.

// strerror texts (glibc) of the errnos rtnetlink returns in practice; node:util would give
// them all, but loading it costs the plugin start-up time on every call.
const ERRNOS: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  3: ['ESRCH', 'No such process'],
  9: ['EBADF', 'Bad file descriptor'],
  12: ['ENOMEM', 'Cannot allocate memory'],
  13: ['EACCES', 'Permission denied'],
  16: ['EBUSY', 'Device or resource busy'],
  17: ['EEXIST', 'File exists'],
  19: ['ENODEV', 'No such device'],
  22: ['EINVAL', 'Invalid argument'],
  23: ['ENFILE', 'Too many open files in system'],
  24: ['EMFILE', 'Too many open files'],
  34: ['ERANGE', 'Numerical result out of range'],
  71: ['EPROTO', 'Protocol error'],
  90: ['EMSGSIZE', 'Message too long'],
  93: ['EPROTONOSUPPORT', 'Protocol not supported'],
  95: ['EOPNOTSUPP', 'Operation not supported'],
  97: ['EAFNOSUPPORT', 'Address family not supported by protocol'],
  98: ['EADDRINUSE', 'Address already in use'],
  99: ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  100: ['ENETDOWN', 'Network is down'],
  101: ['ENETUNREACH', 'Network is unreachable'],
  105: ['ENOBUFS', 'No buffer space available'],
};

export function errnoName(errno: number): string {
  return ERRNOS[errno]?.[0] ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  return ERRNOS[errno]?.[1] ?? `error ${errno}`;
}

export const EEXIST = 17;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;
export const ENODEV = 19;
export const ENOENT = 2;

export class NetlinkError extends Error {
  /** e.g. "EEXIST" */
  readonly code: string;
  constructor(
    /** the operation, spelled as the `ip` command that does the same */
    readonly op: string,
    readonly errno: number,
    /** the kernel's extended-ack message, when it gave one */
    readonly reason?: string,
    /** position of the failed request in its batch (0-based) */
    readonly index = 0,
    /** the namespace the socket works in (undefined: the plugin's own) */
    readonly netns?: string,
  ) {
    super(`${op}${netns ? ` (netns ${netns})` : ''}: ${errnoText(errno)} (${errnoName(errno)})${reason ? `: ${reason}` : ''}`);
    this.name = 'NetlinkError';
    this.code = errnoName(errno);
  }
}
