// The netlink addon's memory calls twilld makes (daemon/memory.ts), against the real kernel
// and glibc, in this test's own process: paging out the running executable's file pages,
// limiting and trimming the C heap's arenas.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { netlinkAddon } from '../../lib/kernel/netlink/addon.js';

const exe = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(' ' + process.execPath));

describe('daemon memory calls (netlink addon)', () => {
  it('pages out every mapping of the running executable and says how many bytes it advised', () => {
    const mapped = exe.map((l) => l.split(' ')[0].split('-').map((h) => parseInt(h, 16))).reduce((n, [a, b]) => n + (b - a), 0);
    assert.ok(mapped > 0, `the executable ${process.execPath} is mapped`);
    assert.equal(netlinkAddon().pageOutExecutable(), mapped, 'the sum of its mappings');
    // the code keeps running: the pages fault back in from the page cache
    assert.equal([1, 2, 3].map((x) => x * 2).join(), '2,4,6');
    assert.equal(netlinkAddon().pageOutExecutable(), mapped, 'and again');
  });

  it('limits the C heap arenas and trims the C heap', () => {
    assert.equal(netlinkAddon().limitMallocArenas(2), true);
    assert.throws(() => netlinkAddon().limitMallocArenas(0), RangeError);
    assert.throws(() => (netlinkAddon().limitMallocArenas as (n?: unknown) => boolean)('two'), TypeError);
    assert.equal(typeof netlinkAddon().trimMalloc(), 'boolean');
  });
});
