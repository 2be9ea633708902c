import assert from 'node:assert/strict';
import { createLogger } from '../../daemon/log.js';
import { parseOptions } from '../../daemon/options.js';
import { EtcdSubnetManager } from '../../daemon/subnet/etcd-manager.js';
import { createSubnetManager, subnetManagers } from '../../daemon/subnet/registry.js';

describe('subnet manager registry', () => {
  const ctx = { options: parseOptions([], {}), log: createLogger('error', () => {}) };

  it('builds the etcd manager by default', async () => {
    const sm = await createSubnetManager('etcd', ctx);
    try {
      assert.ok(sm instanceof EtcdSubnetManager);
      assert.equal(sm.kind, 'etcd');
    } finally {
      await sm.close();
    }
  });

  it('a manager missing from the map is a clear error, not a crash', async () => {
    const saved = subnetManagers.kube;
    delete subnetManagers.kube;
    try {
      await assert.rejects(createSubnetManager('kube', ctx), /"kube" is not available in this build \(known: etcd\)/);
    } finally {
      if (saved) subnetManagers.kube = saved;
    }
  });
});
