// The IPAM store in host-local's on-disk layout, so the two can read (and migrate) each
// other's data: one file per reserved address, named by the address (IPv6 in RFC 5952 text,
// as Go prints it) and holding "<containerID>\r\n<ifname>"; `last_reserved_ip.<range id>`
// remembers where round-robin stopped in each range; a `lock` file exists for host-local's
// sake. As in host-local, all ranges of one network share one directory: a dual-stack pod
// holds two files there, and the range ids follow the order of host-local's `ranges` as
// flannel's CNI config writes them (IPv4 "0", IPv6 "1"; IPv6 alone "0").
//
// Lock scheme. Node cannot flock(), so correctness does not rest on the lock file:
// - reserving an address is creating its file with O_CREAT|O_EXCL ('wx'), which the kernel
//   makes atomic: of any number of concurrent ADDs (twill's or host-local's, which reserves
//   the same way) exactly one creates the file, the others see EEXIST and move on;
// - `last_reserved_ip.0` is only a hint for where to start, written in place like host-local
//   does: a lost update or a torn read (parsed as no hint) costs at most a few extra EEXIST
//   probes, never a shared address;
// - releasing renames the file aside first and checks the owner on the renamed copy, so a
//   DEL and a GC racing over the same address can never delete a newer owner's reservation.
// Container IDs only ever appear inside files, never in a path, so no ID can make the
// plugin write outside dataDir.
import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Cidr, Ip } from '../../lib/ip/cidr.js';

export interface Owner {
  containerId: string;
  ifname: string;
}

export interface Reservation extends Owner {
  ip: string;
}

const LINE_BREAK = '\r\n';

export class IpamStore {
  constructor(
    readonly dir: string,
    readonly rangeId = '0',
  ) {}

  /** Creates dataDir and the (host-local compatible) lock file. */
  ensure(): void {
    // The common case (store exists) costs one open; the directory is made only when missing.
    const lock = path.join(this.dir, 'lock');
    try {
      closeSync(openSync(lock, 'a'));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return; // the lock is only a compatibility marker
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    try {
      closeSync(openSync(lock, 'a'));
    } catch {
      /* see above */
    }
  }

  /** true when this call created the reservation; false when the address was taken. */
  tryReserve(ip: Ip, owner: Owner): boolean {
    let fd: number;
    try {
      fd = openSync(this.file(ip), 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      writeSync(fd, `${owner.containerId}${LINE_BREAK}${owner.ifname}`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  lastReserved(): Ip | undefined {
    try {
      return Ip.tryParse(readFileSync(path.join(this.dir, `last_reserved_ip.${this.rangeId}`), 'utf8'));
    } catch {
      return undefined;
    }
  }

  setLastReserved(ip: Ip): void {
    writeFileSync(path.join(this.dir, `last_reserved_ip.${this.rangeId}`), ip.toString());
  }

  owner(ip: Ip | string): Owner | undefined {
    try {
      return parseOwner(readFileSync(this.file(ip), 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Every reservation in the store (files named by an address). */
  list(): Reservation[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: Reservation[] = [];
    for (const name of names) {
      if (!Ip.tryParse(name)) continue;
      const owner = this.owner(name);
      if (owner) out.push({ ip: name, ...owner });
    }
    return out;
  }

  /** Number of files that reserve an address in `subnet` (cheaper than list(): no reads). */
  countIn(subnet: Cidr): number {
    try {
      return readdirSync(this.dir).filter((n) => {
        const ip = Ip.tryParse(n);
        return ip !== undefined && subnet.contains(ip);
      }).length;
    } catch {
      return 0;
    }
  }

  /** Releases every address `owner` holds; returns them. Missing store = nothing to do. */
  releaseByOwner(owner: Owner): string[] {
    return this.list()
      .filter((r) => sameOwner(r, owner))
      .filter((r) => this.release(r.ip, owner))
      .map((r) => r.ip);
  }

  /** Deletes the reservation of `ip` if (and only if) `owner` holds it. */
  release(ip: string, owner: Owner): boolean {
    const file = this.file(ip);
    const aside = path.join(this.dir, `.release-${path.basename(file)}-${uniq()}`);
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const now = (() => {
      try {
        return parseOwner(readFileSync(aside, 'utf8'));
      } catch {
        return undefined;
      }
    })();
    if (now && !sameOwner(now, owner)) {
      // Someone else holds it now: put it back (link fails only if yet another ADD took the
      // free slot in between, which then owns the address).
      try {
        linkSync(aside, file);
      } catch {
        /* see above */
      }
      unlinkSync(aside);
      return false;
    }
    unlinkSync(aside);
    return true;
  }

  private file(ip: Ip | string): string {
    // The name is always a parsed address, never caller text.
    const name = typeof ip === 'string' ? Ip.parse(ip).toString() : ip.toString();
    return path.join(this.dir, name);
  }
}

export function parseOwner(text: string): Owner | undefined {
  const [containerId, ifname] = text.split(/\r?\n/);
  if (!containerId) return undefined;
  return { containerId: containerId.trim(), ifname: (ifname ?? '').trim() };
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.containerId === b.containerId && a.ifname === b.ifname;
}

/** A per-call suffix for temp names (pid + random: unique enough, and no node:crypto to load). */
function uniq(): string {
  return `${process.pid}-${Math.floor(Math.random() * 0xffffffff).toString(16)}`;
}
