// Pure parts of the Kubernetes integration: annotation names, Node <-> lease mapping, which
// leases a deleted Node held, and the RBAC verb of each API request.
import assert from 'node:assert/strict';
import {
  annotationNames, leaseAnnotations, nodeAddresses, NodeLike, nodeToLease,
} from '../../lib/kube/annotations.js';
import { leasesOfDeletedNode } from '../../daemon/kube/lease-releaser.js';
import { isPermitted, requestPermission } from '../helpers/kube-permissions.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import type { Lease } from '../../lib/schema/lease.js';
import { leaseAttrs, plain } from '../helpers/lease-attrs.js';

const F = annotationNames();
const attrs = leaseAttrs({ PublicIP: '198.18.0.11', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0a:58:0a:f4:01:00' } });

function kubeNode(name: string, ann: Record<string, string>, podCIDR?: string, internalIP?: string): NodeLike {
  return {
    metadata: { name, annotations: ann },
    spec: podCIDR ? { podCIDR } : {},
    status: internalIP ? { addresses: [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }] } : {},
  };
}

function etcdLease(subnet: string, publicIP: string, mac: string, reservation = false): Lease {
  const leaseId = reservation ? undefined : '7';
  return { key: `/coreos.com/network/subnets/${subnet.replace('/', '-')}`, subnet: Cidr.parse(subnet), attrs: leaseAttrs({ PublicIP: publicIP, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }), leaseId, modRevision: '5' };
}

describe('kube annotations', () => {
  it("uses flannel's names under the default prefix", () => {
    assert.equal(F.backendType, 'flannel.alpha.coreos.com/backend-type');
    assert.equal(F.backendData, 'flannel.alpha.coreos.com/backend-data');
    assert.equal(F.publicIP, 'flannel.alpha.coreos.com/public-ip');
    assert.equal(F.kubeSubnetManager, 'flannel.alpha.coreos.com/kube-subnet-manager');
    assert.equal(F.publicIPOverwrite, 'flannel.alpha.coreos.com/public-ip-overwrite');
  });

  it('accepts domain and domain/name prefixes and refuses malformed ones', () => {
    assert.equal(annotationNames('twill.example.com').backendType, 'twill.example.com/backend-type');
    assert.equal(annotationNames('example.com/twill').publicIP, 'example.com/twill-public-ip');
    for (const bad of ['a/b/c', 'NoDots', 'Upper.Case/x', 'example.com/x y']) {
      assert.throws(() => annotationNames(bad), /^Error: annotation prefix /, bad);
    }
  });

  it('publishes backend data as JSON and marks kube-managed nodes only in kube mode', () => {
    const a = leaseAnnotations(F, attrs, true);
    assert.deepEqual(JSON.parse(a[F.backendData]), plain(attrs.BackendData));
    assert.equal(a[F.kubeSubnetManager], 'true');
    assert.equal(a[F.publicIP], '198.18.0.11');
    assert.equal(leaseAnnotations(F, attrs, false)[F.kubeSubnetManager], undefined);
  });

  it('turns a kube-managed Node into a lease and ignores unfinished ones', () => {
    const ann = leaseAnnotations(F, attrs, true);
    const lease = nodeToLease(F, kubeNode('n1', ann, '10.244.1.0/24'))!;
    assert.equal(String(lease.subnet), '10.244.1.0/24');
    assert.deepEqual(plain(lease.attrs.BackendData), plain(attrs.BackendData));
    assert.equal(lease.key, 'kube/nodes/n1');
    assert.equal(nodeToLease(F, kubeNode('n1', ann)), undefined, 'no podCIDR');
    const { [F.kubeSubnetManager]: _, ...unmanaged } = ann;
    assert.equal(nodeToLease(F, kubeNode('n1', unmanaged, '10.244.1.0/24')), undefined, 'not kube-managed');
    const over = nodeToLease(F, kubeNode('n1', { ...ann, [F.publicIPOverwrite]: '203.0.113.9' }, '10.244.1.0/24'))!;
    assert.equal(String(over.attrs.PublicIP), '203.0.113.9', 'public-ip-overwrite wins');
  });

  it('prefers spec.podCIDRs by family for dual-stack Nodes', () => {
    const ann = { ...leaseAnnotations(F, { ...attrs, PublicIPv6: Ip.parse('fd00::11') }, true) };
    const n: NodeLike = { metadata: { name: 'd', annotations: ann }, spec: { podCIDR: 'fd00:10:244:1::/64', podCIDRs: ['fd00:10:244:1::/64', '10.244.1.0/24'] } };
    const l = nodeToLease(F, n, { enableIPv6: true })!;
    assert.equal(String(l.subnet), '10.244.1.0/24');
    assert.equal(String(l.subnet6), 'fd00:10:244:1::/64');
    assert.equal(String(l.attrs.PublicIPv6), 'fd00::11');
  });

  it('collects a Node addresses from annotations and status', () => {
    const addrs = nodeAddresses(F, kubeNode('n', { [F.publicIP]: '198.18.0.11' }, undefined, '10.0.0.5'));
    assert.deepEqual([...addrs].sort(), ['10.0.0.5', '198.18.0.11']);
  });
});

describe('leases of a deleted Node', () => {
  const leases = [
    etcdLease('10.244.1.0/24', '198.18.0.11', '0a:00:00:00:00:01'),
    etcdLease('10.244.2.0/24', '198.18.0.12', '0a:00:00:00:00:02'),
    etcdLease('10.244.3.0/24', '198.18.0.13', '0a:00:00:00:00:03', true), // reservation
  ];
  it('picks the lease whose PublicIP is the Node address', () => {
    const gone = kubeNode('n1', leaseAnnotations(F, { ...attrs, BackendData: { VNI: 1, VtepMAC: Mac.parse('0a:00:00:00:00:01') } }, false));
    assert.deepEqual(leasesOfDeletedNode(F, gone, [], leases).map((l) => String(l.subnet)), ['10.244.1.0/24']);
  });
  it('falls back to the InternalIP when the Node has no annotations', () => {
    const gone = kubeNode('n2', {}, undefined, '198.18.0.12');
    assert.deepEqual(leasesOfDeletedNode(F, gone, [], leases).map((l) => String(l.subnet)), ['10.244.2.0/24']);
  });
  it('never releases reservations', () => {
    assert.deepEqual(leasesOfDeletedNode(F, kubeNode('n3', {}, undefined, '198.18.0.13'), [], leases), []);
  });
  it('keeps a lease whose address another Node still has', () => {
    const gone = kubeNode('old-name', {}, undefined, '198.18.0.11');
    const still = kubeNode('new-name', {}, undefined, '198.18.0.11');
    assert.deepEqual(leasesOfDeletedNode(F, gone, [still], leases), []);
  });
  it('keeps a lease with the same IP but another VtepMAC (another machine took the address)', () => {
    const gone = kubeNode('n1', leaseAnnotations(F, { ...attrs, BackendData: { VNI: 1, VtepMAC: Mac.parse('0a:ff:ff:ff:ff:ff') } }, false));
    assert.deepEqual(leasesOfDeletedNode(F, gone, [], leases), []);
  });
});

describe('kube API permissions', () => {
  it('maps requests to RBAC verbs', () => {
    assert.deepEqual(requestPermission('GET', '/api/v1/nodes?watch=true&resourceVersion=5'), { resource: 'nodes', verb: 'watch' });
    assert.deepEqual(requestPermission('GET', '/api/v1/nodes'), { resource: 'nodes', verb: 'list' });
    assert.deepEqual(requestPermission('GET', '/api/v1/nodes/n1'), { resource: 'nodes', verb: 'get' });
    assert.deepEqual(requestPermission('PATCH', '/api/v1/nodes/n1/status'), { resource: 'nodes/status', verb: 'patch' });
    assert.equal(requestPermission('GET', '/api/v1/pods'), undefined);
  });
  it('permits only what the daemon uses', () => {
    assert.ok(isPermitted('PATCH', '/api/v1/nodes/n1/status'));
    assert.ok(!isPermitted('PATCH', '/api/v1/nodes/n1'), 'no write access to Node specs');
    assert.ok(!isPermitted('DELETE', '/api/v1/nodes/n1'));
    assert.ok(!isPermitted('POST', '/api/v1/nodes'));
  });
});
