// The decision about net.ipv4.ip_forward, with the sysctl file replaced by a table so every
// refusal code can be shown (the real read-only /proc/sys is in
// test/integration/daemon-ip-forward.test.ts).
import assert from 'node:assert/strict';
import { ensureIpForward, IP_FORWARD, IPV6_FORWARDING, Sysctls, waitForIpForward } from '../../daemon/ip-forward.js';
import { createLogger } from '../../daemon/log.js';

function table(value: string, refuse?: string, key = IP_FORWARD): Sysctls & { writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    read: (k) => (assert.equal(k, key), value),
    write: (k, v) => {
      if (refuse) throw Object.assign(new Error(`${refuse}: refused`), { code: refuse });
      writes.push(`${k}=${v}`);
      value = v;
    },
  };
}

describe('ip_forward', () => {
  it('is not written when it is already on', () => {
    const s = table('1', 'EROFS');
    assert.deepEqual(ensureIpForward(s), { on: true, written: false });
    assert.deepEqual(s.writes, []);
  });

  it('is written when off and writable', () => {
    const s = table('0');
    assert.deepEqual(ensureIpForward(s), { on: true, written: true });
    assert.deepEqual(s.writes, ['net.ipv4.ip_forward=1']);
  });

  it('reports a refused write by its code (EROFS, EACCES, EPERM), and rethrows anything else', () => {
    for (const code of ['EROFS', 'EACCES', 'EPERM']) {
      assert.deepEqual(ensureIpForward(table('0', code)), { on: false, error: `${code}: cannot write /proc/sys/net/ipv4/ip_forward` });
    }
    assert.throws(() => ensureIpForward(table('0', 'EIO')), /EIO/);
  });

  it('works the same for IPv6 forwarding (dual stack, IPv6 only)', () => {
    const s = table('0', undefined, IPV6_FORWARDING.key);
    assert.deepEqual(ensureIpForward(s, IPV6_FORWARDING), { on: true, written: true });
    assert.deepEqual(s.writes, ['net.ipv6.conf.all.forwarding=1']);
    assert.deepEqual(ensureIpForward(table('0', 'EROFS', IPV6_FORWARDING.key), IPV6_FORWARDING),
      { on: false, error: 'EROFS: cannot write /proc/sys/net/ipv6/conf/all/forwarding' });
  });

  it('waits while refused, reports why, and returns once it is on', async () => {
    let value = '0';
    const s: Sysctls = { read: () => value, write: () => { throw Object.assign(new Error('ro'), { code: 'EROFS' }); } };
    const lines: Record<string, unknown>[] = [];
    const reasons: (string | undefined)[] = [];
    const log = createLogger('info', (l) => lines.push(JSON.parse(l)));
    const done = waitForIpForward(log, new AbortController().signal, (why) => reasons.push(why), 5, s);
    await new Promise((r) => setTimeout(r, 40));
    value = '1';
    await done;
    assert.ok(reasons.length >= 2);
    assert.match(String(reasons[0]), /ip_forward is 0/);
    assert.equal(reasons.at(-1), undefined, 'cleared once on');
    assert.equal(lines.filter((l) => l.level === 'error').length, 1, 'one error line, not one per retry');
    assert.equal(lines.at(-1)?.msg, 'ip_forward is on now');
  });

  it('stops waiting when the daemon is stopped', async () => {
    const stop = new AbortController();
    const done = waitForIpForward(createLogger('error', () => {}), stop.signal, () => {}, 60_000, table('0', 'EROFS'));
    stop.abort();
    await done;
  });
});
