// The build-time warm-up that fills the plugin's code cache (cni-plugin/warmup.ts) must run
// the ADD/CHECK/DEL paths to completion without a kernel, and clean up after itself: a
// warm-up that throws would fail the build, one that stops early would leave a cold cache.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { warmUp } from '../../cni-plugin/warmup.js';

describe('plugin code-cache warm-up', () => {
  it('runs every version through ADD, CHECK and DEL against a scratch IPAM store', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twill-nl-warm-'));
    try {
      warmUp(dir);
      const left = readdirSync(path.join(dir, 'ipam')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
      assert.deepEqual(left, [], 'every reservation made by an ADD was released by its DEL');
      assert.ok(readdirSync(path.join(dir, 'ipam')).includes('last_reserved_ip.0'), 'the allocator really ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
