// The build-time warm-up that fills the plugin's code cache (cni-plugin/warmup.ts) must run
// the ADD/CHECK/DEL paths to completion without a kernel, and clean up after itself: a
// warm-up that throws would fail the build, one that stops early would leave a cold cache.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { warmUp } from '../../cni-plugin/warmup.js';
import { Ip } from '../../lib/ip/cidr.js';

describe('plugin code-cache warm-up', () => {
  it('runs every version through ADD, CHECK and DEL against a scratch IPAM store, in IPv4, dual stack and IPv6 only', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twill-nl-warm-'));
    try {
      warmUp(dir);
      const hints: Record<string, string[]> = { v4: ['last_reserved_ip.0'], dual: ['last_reserved_ip.0', 'last_reserved_ip.1'], v6: ['last_reserved_ip.0'] };
      for (const [stack, want] of Object.entries(hints)) {
        const files = readdirSync(path.join(dir, `ipam-${stack}`));
        const left = files.filter((f) => Ip.tryParse(f));
        assert.deepEqual(left, [], `${stack}: every reservation made by an ADD was released by its DEL`);
        assert.deepEqual(files.filter((f) => f.startsWith('last_reserved_ip.')).sort(), want, `${stack}: the allocator really ran, once per family`);
      }
      assert.match(readFileSync(path.join(dir, 'ipam-v6', 'last_reserved_ip.0'), 'utf8'), /^fd00:10:244:3::/, 'IPv6 only: range 0 is the IPv6 one');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
