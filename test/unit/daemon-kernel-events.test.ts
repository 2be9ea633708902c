import assert from 'node:assert/strict';
import { isDriftEvent } from '../../daemon/kernel-events.js';

describe('kernel events that may be drift', () => {
  const yes = [
    'Deleted 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
    'Deleted 10.244.2.0/24 via 198.18.0.12 dev eth0',
    'Deleted 10.244.2.0 dev twill.1 lladdr 02:aa:bb:cc:dd:ee PERMANENT',
    'Deleted 02:aa:bb:cc:dd:ee dev twill.1 dst 198.18.0.12 self permanent',
    'Deleted 7: twill.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default',
    '7: twill.1: <BROADCAST,MULTICAST> mtu 1450 qdisc noqueue state DOWN group default',
  ];
  const no = [
    '10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink',
    '10.244.2.0 dev twill.1 lladdr 02:aa:bb:cc:dd:ee PERMANENT',
    'Deleted 10.244.3.12 dev cni0 lladdr 0a:58:0a:f4:03:0c STALE',
    'Deleted 198.18.0.1 dev eth0 lladdr 02:11:22:33:44:55 STALE',
    'Deleted 0a:58:0a:f4:03:0c dev vp1 master cni0',
    '8: twill.10: <BROADCAST> mtu 1450',
  ];
  for (const l of yes) it(`yes: ${l}`, () => assert.equal(isDriftEvent(l, 'twill.1'), true));
  for (const l of no) it(`no: ${l}`, () => assert.equal(isDriftEvent(l, 'twill.1'), false));
  it('host-gw (no device): route deletions only', () => {
    assert.equal(isDriftEvent('Deleted 10.244.2.0/24 via 198.18.0.12 dev eth0', undefined), true);
    assert.equal(isDriftEvent('Deleted 198.18.0.1 dev eth0 lladdr 02:11:22:33:44:55 STALE', undefined), false);
  });
});
