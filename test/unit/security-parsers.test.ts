// The parsers at twill's trust boundaries (etcd lease values, Node annotations, the network
// config, subnet.env) against hostile input: named refusals for the cases an attacker would
// try, and property-based fuzzing (fast-check) that nothing parses unless it is valid.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { opText, planDataplane } from '../../lib/dataplane/plan.js';
import { encodeOps } from '../../lib/kernel/dataplane.js';
import { parseMessages } from '../../lib/kernel/netlink/wire.js';
import { annotationNames, leaseAnnotations, readNodeLease } from '../../lib/kube/annotations.js';
import { terminalSafe } from '../../ctl/output.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import { assertSafeBatch } from '../../lib/kernel/ip.js';
import {
  encodeLeaseAttrs, InvalidLease, LEASE_BACKEND_TYPES, LeaseValueError, parseLeaseAttrs,
} from '../../lib/schema/lease.js';
import { LeaseScreen, leaseNetworkProblem, screenLeases } from '../../lib/schema/subnet-pool.js';
import { ConfigError, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { formatSubnetEnv, parseSubnetEnv, SubnetEnvError } from '../../lib/schema/subnet-env.js';
import { vxlanAttrs } from '../helpers/lease-attrs.js';

const RUNS = 3000;
const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const VALID = { PublicIP: '198.18.0.12', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:aa:bb:cc:dd:ee' } };

/** What hostile input looks like: a valid value with something spliced in. */
const NASTY = ['\n', '\r', '\0', ' ', '\t', '\x1b[2J', '\u202e', ';', '\nnetns exec x touch /tmp/y', ' dev lo', '\\', '"', '%eth0', '\ud83d'];
const spliced = (valid: string) => fc.tuple(fc.nat({ max: valid.length }), fc.constantFrom(...NASTY), fc.boolean())
  .map(([at, bad, keep]) => (keep ? valid.slice(0, at) + bad + valid.slice(at) : bad));
const anyField = (valid: unknown) => fc.oneof(
  fc.constant(valid),
  typeof valid === 'string' ? spliced(valid) : fc.constant(String(valid)),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 60 }),
  fc.integer(), fc.double(), fc.constant(null), fc.constant(undefined),
);
const leaseObject = fc.record({
  PublicIP: anyField(VALID.PublicIP),
  PublicIPv6: fc.option(anyField('2001:db8::12'), { nil: undefined }),
  BackendType: fc.oneof(anyField('vxlan'), fc.constantFrom(...LEASE_BACKEND_TYPES)),
  BackendData: fc.oneof(
    fc.record({ VNI: anyField(1), VtepMAC: anyField(VALID.BackendData.VtepMAC) }, { requiredKeys: [] }),
    anyField(null),
  ),
}, { requiredKeys: [] });

/** Everything a parsed lease value may hold, checked field by field. */
function assertValid(attrs: ReturnType<typeof parseLeaseAttrs>): void {
  assert.ok(attrs.PublicIP instanceof Ip && attrs.PublicIP.family === 4);
  assert.match(attrs.PublicIP.toString(), /^\d{1,3}(\.\d{1,3}){3}$/);
  if (attrs.PublicIPv6) assert.ok(attrs.PublicIPv6.family === 6 && /^[0-9a-f:]+$/.test(attrs.PublicIPv6.toString()));
  assert.ok((LEASE_BACKEND_TYPES as readonly string[]).includes(attrs.BackendType));
  const d = attrs.BackendData;
  if (d) {
    assert.equal(attrs.BackendType, 'vxlan');
    assert.ok(Number.isInteger(d.VNI) && d.VNI >= 0 && d.VNI <= 0xffffff);
    assert.match(d.VtepMAC.toString(), MAC_TEXT);
    assert.equal(d.VtepMAC.bytes[0] & 1, 0, 'unicast');
  }
  // the typed value prints as flannel's JSON and reads back as itself
  assert.equal(encodeLeaseAttrs(parseLeaseAttrs(encodeLeaseAttrs(attrs))), encodeLeaseAttrs(attrs));
}

function refusal(f: () => unknown): LeaseValueError {
  try {
    f();
  } catch (e) {
    if (e instanceof LeaseValueError) return e;
    throw e;
  }
  assert.fail('was accepted');
}

describe('security: lease values from etcd', () => {
  it('refuses each hostile field with a message naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ BackendData: { VNI: 1, VtepMAC: '02:aa:bb:cc:dd:ee\nnetns exec x touch /tmp/y' } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: 1, VtepMAC: '02:aa:bb:cc:dd:ee dev lo' } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: 1, VtepMAC: '02-aa-bb-cc-dd-ee' } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: 1, VtepMAC: '01:00:5e:00:00:01' } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: 1, VtepMAC: '00:00:00:00:00:00' } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: 1, VtepMAC: 42 } }, 'BackendData.VtepMAC'],
      [{ BackendData: { VNI: -1, VtepMAC: '02:aa:bb:cc:dd:ee' } }, 'BackendData.VNI'],
      [{ BackendData: { VNI: 16777216, VtepMAC: '02:aa:bb:cc:dd:ee' } }, 'BackendData.VNI'],
      [{ BackendData: { VNI: 1.5, VtepMAC: '02:aa:bb:cc:dd:ee' } }, 'BackendData.VNI'],
      [{ BackendData: { VNI: '1', VtepMAC: '02:aa:bb:cc:dd:ee' } }, 'BackendData.VNI'],
      [{ BackendData: 'x' }, 'BackendData'],
      [{ PublicIP: '198.18.0.12\nnetns exec x touch /tmp/y' }, 'PublicIP'],
      [{ PublicIP: ' 198.18.0.12' }, 'PublicIP'],
      [{ PublicIP: '198.018.0.12' }, 'PublicIP'],
      [{ PublicIP: '0.0.0.0' }, 'PublicIP'],
      [{ PublicIP: '127.0.0.1' }, 'PublicIP'],
      [{ PublicIP: '224.0.0.1' }, 'PublicIP'],
      [{ PublicIP: '2001:db8::1' }, 'PublicIP'],
      [{ PublicIP: 3232235777 }, 'PublicIP'],
      [{ PublicIPv6: 'fe80::1%eth0' }, 'PublicIPv6'],
      [{ PublicIPv6: 'fe80::1' }, 'PublicIPv6'],
      [{ PublicIPv6: '198.18.0.12' }, 'PublicIPv6'],
      [{ BackendType: 'vxlan\nnetns exec x touch /tmp/y' }, 'BackendType'],
      [{ BackendType: 'bogus' }, 'BackendType'],
      [{ BackendType: ['vxlan'] }, 'BackendType'],
    ];
    for (const [patch, field] of cases) {
      const e = refusal(() => parseLeaseAttrs(JSON.stringify({ ...VALID, ...patch })));
      assert.equal(e.field, field, JSON.stringify(patch));
      assert.ok(!/[\x00-\x1f]/.test(e.message), `the message carries no control characters: ${JSON.stringify(e.message)}`);
    }
    assert.equal(refusal(() => parseLeaseAttrs('x'.repeat(5000))).field, '(value)', 'overlong');
    assert.equal(refusal(() => parseLeaseAttrs('[1]')).field, '(value)');
    assert.equal(refusal(() => parseLeaseAttrs('{"PublicIP":"1.2.3.4","BackendType":"vxlan","BackendData":\n')).field, '(value)');
  });

  it('accepts flannel\'s values, canonically printed', () => {
    const a = parseLeaseAttrs(JSON.stringify({ ...VALID, BackendData: { VNI: 7, VtepMAC: '02:AA:BB:CC:DD:EE' }, PublicIPv6: '2001:DB8:0:0::12' }));
    assert.equal(encodeLeaseAttrs(a), '{"PublicIP":"198.18.0.12","BackendType":"vxlan","BackendData":{"VNI":7,"VtepMAC":"02:aa:bb:cc:dd:ee"},"PublicIPv6":"2001:db8::12"}');
    // a reservation nobody has taken carries no VTEP yet; other backends' data is not carried
    assert.equal(parseLeaseAttrs('{"PublicIP":"198.18.0.12","BackendType":"vxlan"}').BackendData, null);
    assert.equal(parseLeaseAttrs('{"PublicIP":"198.18.0.12","BackendType":"wireguard","BackendData":{"PublicKey":"x\\ny"}}').BackendData, null);
  });

  it('PublicIP: the special IPv4 ranges end exactly where they should', () => {
    for (const ip of ['0.255.255.255', '127.0.0.0', '127.255.255.255', '224.0.0.0', '239.255.255.255', '255.255.255.255']) {
      assert.equal(refusal(() => parseLeaseAttrs(JSON.stringify({ ...VALID, PublicIP: ip }))).field, 'PublicIP', ip);
    }
    for (const ip of ['1.0.0.0', '126.255.255.255', '128.0.0.0', '223.255.255.255', '240.0.0.1', '255.255.255.254']) {
      assert.equal(String(parseLeaseAttrs(JSON.stringify({ ...VALID, PublicIP: ip })).PublicIP), ip);
    }
  });

  it('fuzz: a MAC in any mix of cases reads as its octets and prints in lower case', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (b, upper) => {
      b[0] &= 0xfe;
      fc.pre(b.some((o) => o !== 0));
      const lower = [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
      let i = 0;
      const mixed = lower.replace(/[0-9a-f]/g, (c) => (upper[i++] ? c.toUpperCase() : c));
      const m = Mac.parse(mixed);
      assert.deepEqual([...m.bytes], [...b]);
      assert.equal(m.toString(), lower);
      assert.ok(m.equals(Mac.parse(lower)));
    }), { numRuns: 500 });
  });

  it('fuzz: whatever parses is valid in every field (property, 3000 values)', () => {
    fc.assert(fc.property(leaseObject, (o) => {
      let attrs;
      try {
        attrs = parseLeaseAttrs(JSON.stringify(o));
      } catch (e) {
        assert.ok(e instanceof LeaseValueError, String(e));
        return;
      }
      assertValid(attrs);
    }), { numRuns: RUNS });
  });

  it('fuzz: arbitrary text never escapes the parser other than as a LeaseValueError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })), (text) => {
      try {
        assertValid(parseLeaseAttrs(text));
      } catch (e) {
        if (!(e instanceof LeaseValueError)) throw e;
      }
    }), { numRuns: RUNS });
  });

  it('a lease must be one of the network\'s node subnets', () => {
    const config = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetLen: 24 });
    const l = (s: string) => ({ key: s, subnet: Cidr.parse(s), attrs: vxlanAttrs('198.18.0.12', '02:aa:bb:cc:dd:ee') });
    for (const s of ['0.0.0.0/0', '10.244.0.0/16', '10.244.3.0/25', '10.245.3.0/24', '10.0.0.0/8']) {
      assert.equal(leaseNetworkProblem(l(s), config)?.field, 'subnet', s);
    }
    assert.equal(leaseNetworkProblem(l('10.244.3.0/24'), config), undefined);
    const { leases, invalid } = screenLeases([l('10.244.3.0/24'), l('0.0.0.0/0')], [], config);
    assert.deepEqual(leases.map((x) => x.key), ['10.244.3.0/24']);
    assert.deepEqual(invalid.map((x) => [x.key, x.field]), [['0.0.0.0/0', 'subnet']]);
    // the same objects screened again (the next watch event), and under another network:
    // each verdict belongs to its config, not just to the lease object
    const same = [l('10.244.3.0/24'), l('0.0.0.0/0')];
    const again = () => screenLeases(same, [], config).leases.map((x) => x.key);
    assert.deepEqual([again(), again()], [['10.244.3.0/24'], ['10.244.3.0/24']]);
    const other = parseNetworkConfig(JSON.stringify({ Network: '10.200.0.0/16', Backend: { Type: 'vxlan' } }));
    assert.deepEqual(screenLeases(same, [], other).invalid.map((x) => x.key), ['10.244.3.0/24', '0.0.0.0/0']);
    assert.deepEqual(again(), ['10.244.3.0/24']);
  });

  it('screening key by key (the daemon\'s LeaseScreen) always equals screening the whole set', () => {
    const config = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetLen: 24 });
    // 8 keys; each step puts a fitting lease, a lease outside the network, a refused value, or deletes
    const key = (k: number) => `k${k}`;
    const step = fc.record({ k: fc.nat({ max: 7 }), what: fc.constantFrom('fit', 'outside', 'refused', 'delete') });
    fc.assert(fc.property(fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { maxLength: 12 }), fc.nat(), (bursts, relistAt) => {
      const all = new Map<string, ReturnType<typeof lease>>();
      const refused = new Map<string, InvalidLease>();
      const screen = new LeaseScreen(config);
      screen.update(all, refused);
      bursts.forEach((burst, n) => {
        const changed = new Set<string>();
        for (const { k, what } of burst) {
          all.delete(key(k));
          refused.delete(key(k));
          if (what === 'fit' || what === 'outside') all.set(key(k), lease(key(k), what === 'fit' ? `10.244.${k}.0/24` : `10.9.${k}.0/24`));
          if (what === 'refused') refused.set(key(k), { invalid: true, key: key(k), field: '(value)', reason: 'is not JSON' });
          changed.add(key(k));
        }
        // now and then a new listing (no keys named) instead of a burst
        screen.update(all, refused, n === relistAt % 16 ? undefined : changed);
        const whole = screenLeases([...all.values()], [...refused.values()], config);
        const sorted = <T extends { key: string }>(xs: Iterable<T>) => [...xs].sort((a, b) => a.key.localeCompare(b.key));
        assert.deepEqual(sorted(screen.leases.values()), sorted(whole.leases));
        assert.deepEqual(sorted(screen.invalid.values()), sorted(whole.invalid));
      });
    }), { numRuns: 500 });
    function lease(k: string, subnet: string) {
      return { key: k, subnet: Cidr.parse(subnet), attrs: vxlanAttrs('198.18.0.12', '02:aa:bb:cc:dd:ee') };
    }
  });
});

describe('security: Node annotations', () => {
  const F = annotationNames();
  const node = (ann: Record<string, string>) => ({
    metadata: { name: 'evil', annotations: { [F.kubeSubnetManager]: 'true', ...ann } },
    spec: { podCIDR: '10.244.9.0/24' },
  });
  const good = leaseAnnotations(F, vxlanAttrs('198.18.0.19', '02:aa:bb:cc:dd:19'), true);

  it('refuses a hostile annotation, naming it; a valid Node still reads', () => {
    assert.equal(String(readNodeLease(F, node(good))!.lease!.attrs.PublicIP), '198.18.0.19');
    const cases: [Record<string, string>, string][] = [
      [{ [F.backendData]: '{"VNI":1,"VtepMAC":"02:aa:bb:cc:dd:19\\nnetns exec x touch /tmp/y"}' }, `${F.backendData}.VtepMAC`],
      [{ [F.backendData]: 'not json' }, F.backendData],
      [{ [F.publicIP]: '198.18.0.19\nnetns exec x touch /tmp/y' }, F.publicIP],
      [{ [F.publicIPOverwrite]: '198.18.0.19 dev lo' }, F.publicIPOverwrite],
      [{ [F.backendType]: 'vxlan\n' }, F.backendType],
    ];
    for (const [patch, field] of cases) {
      const r = readNodeLease(F, node({ ...good, ...patch }));
      assert.equal(r?.lease, undefined, field);
      assert.equal(r?.invalid?.field, field);
      assert.equal(r?.invalid?.key, 'kube/nodes/evil');
    }
  });

  it('fuzz: a Node lease that reads is valid in every field', () => {
    fc.assert(fc.property(fc.record({
      ip: anyField('198.18.0.19'), type: anyField('vxlan'), data: fc.oneof(anyField('{"VNI":1,"VtepMAC":"02:aa:bb:cc:dd:19"}'), fc.json({ maxDepth: 3 })),
    }), ({ ip, type, data }) => {
      const ann: Record<string, string> = { ...good };
      for (const [k, v] of [[F.publicIP, ip], [F.backendType, type], [F.backendData, data]] as const) {
        if (typeof v === 'string') ann[k] = v;
        else delete ann[k];
      }
      const r = readNodeLease(F, node(ann));
      if (r?.lease) assertValid(r.lease.attrs);
    }), { numRuns: RUNS });
  });
});

describe('security: network config and subnet.env', () => {
  it('refuses hostile network config values, naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ Network: '10.244.0.0/16\n-j ACCEPT' }, 'Network'],
      [{ Network: '10.244.0.0/16 ' }, 'Network'],
      [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan\n' } }, 'Backend.Type'],
      [{ Network: '10.244.0.0/16', Backend: { VNI: '1' } }, 'Backend.VNI'],
      [{ Network: '10.244.0.0/16', Backend: { Port: 65536 } }, 'Backend.Port'],
      [{ Network: '10.244.0.0/16', SubnetLen: 24.5 }, 'SubnetLen'],
      [{ Network: '10.244.0.0/16', SubnetMin: '10.244.1.0 ' }, 'SubnetMin'],
    ];
    for (const [cfg, field] of cases) {
      assert.throws(() => parseNetworkConfig(cfg), (e: unknown) => e instanceof ConfigError && e.field === field, JSON.stringify(cfg));
    }
  });

  it('fuzz: a config that parses prints only canonical values (what iptables rules are built from)', () => {
    const cfg = fc.record({
      Network: anyField('10.244.0.0/16'), SubnetLen: anyField(24),
      Backend: fc.record({ Type: anyField('vxlan'), VNI: anyField(1), Port: anyField(8472) }, { requiredKeys: [] }),
    }, { requiredKeys: [] });
    fc.assert(fc.property(cfg, (o) => {
      let c;
      try {
        c = parseNetworkConfig(JSON.stringify(o));
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return;
      }
      assert.match(String(c.Network), /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/);
      assert.ok(Number.isInteger(c.Backend.VNI) && c.Backend.VNI >= 0 && c.Backend.VNI <= 0xffffff);
      assert.ok(Number.isInteger(c.Backend.Port) && c.Backend.Port >= 1 && c.Backend.Port <= 65535);
      assert.ok(['vxlan', 'host-gw'].includes(c.Backend.Type));
    }), { numRuns: RUNS });
  });

  it('subnet.env: a value with a newline is never written, and a second key is never read', () => {
    const ok = { network: '10.244.0.0/16', subnet: '10.244.3.1/24', mtu: 1450, ipMasq: true };
    for (const bad of [{ subnet: '10.244.3.1/24\nFLANNEL_MTU=9000' }, { network: '10.244.0.0/16 ' }, { subnet: '10.244.03.1/24' }, { mtu: 1.5 }]) {
      assert.throws(() => formatSubnetEnv({ ...ok, ...bad } as typeof ok), SubnetEnvError, JSON.stringify(bad));
    }
    const text = formatSubnetEnv(ok);
    assert.throws(() => parseSubnetEnv(`${text}FLANNEL_MTU=9000\n`), /FLANNEL_MTU is set twice/);
    assert.throws(() => parseSubnetEnv(`${text}FLANNEL_X=a b\n`), /line 5 is not KEY=value/);
    assert.throws(() => parseSubnetEnv(text.replace('1450', '1450\x1b')), SubnetEnvError);
    assert.equal(parseSubnetEnv(text).mtu, 1450);
  });

  it('fuzz: subnet.env text either parses into typed values or is refused as SubnetEnvError', () => {
    const line = fc.oneof(fc.constantFrom('FLANNEL_NETWORK=10.244.0.0/16', 'FLANNEL_SUBNET=10.244.3.1/24', 'FLANNEL_MTU=1450', 'FLANNEL_IPMASQ=true'),
      fc.string({ maxLength: 40 }), spliced('FLANNEL_MTU=1450'));
    fc.assert(fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
      try {
        const env = parseSubnetEnv(lines.join('\n'));
        assert.ok(Number.isInteger(env.mtu) && env.mtu >= 68 && env.mtu <= 65535);
        assert.ok(env.subnet === undefined || env.subnet instanceof Cidr);
      } catch (e) {
        if (!(e instanceof SubnetEnvError)) throw e;
      }
    }), { numRuns: RUNS });
  });
});

describe('security: batch scripts and terminal output', () => {
  it('refuses batch lines that hold a second command or start a program', () => {
    for (const bad of ['neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev x\nnetns exec a touch /tmp/b', 'netns exec a id',
      'route add 10.0.0.0/24 dev x\r', 'link set dev x  up', 'link set dev x up ', 'neigh add 10.0.0.1 lladdr \x1b dev x', 'exec id']) {
      assert.throws(() => assertSafeBatch('ip', [bad]), /refusing ip -batch script: line 1/, JSON.stringify(bad));
    }
    assert.doesNotThrow(() => assertSafeBatch('ip', ['route replace 10.244.2.0/24 via 10.244.2.0 dev twill.1 onlink']));
  });

  it('fuzz: every plan built from typed entries encodes, and spells as one safe command per operation', () => {
    const ip4 = fc.ipV4().map((s) => Ip.parse(s));
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
      b[0] = (b[0] & 0xfe) | 0x02;
      return Mac.parse([...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
    });
    const entry = fc.record({ net: fc.ipV4(), len: fc.integer({ min: 8, max: 32 }), via: ip4, mac, dst: ip4 });
    fc.assert(fc.property(fc.array(entry, { maxLength: 20 }), (es) => {
      const plan = planDataplane({
        routes: es.map((e) => ({ dst: Cidr.parse(`${e.net}/${e.len}`), via: e.via, dev: 'twill.1', onlink: true })),
        neighs: es.map((e) => ({ dst: e.via, lladdr: e.mac, dev: 'twill.1' })),
        fdb: es.map((e) => ({ mac: e.mac, dst: e.dst, dev: 'twill.1' })),
        nexthops: es.map((e) => ({ id: Number(e.via.value) || 1, via: e.via, dev: 'twill.1', onlink: true })),
      }, { routes: [], neighs: [], fdb: [], nexthops: [] });
      // messages spell each operation as one command of printable words, and each encodes
      assertSafeBatch('ip', plan.ops.map(opText));
      // ... and the batch parses back as one well-framed message per operation, in order
      const msgs = parseMessages(encodeOps(plan.ops, plan.ops.map(() => 7), 100));
      assert.deepEqual(msgs.map((m) => m.seq), plan.ops.map((_, i) => 100 + i));
    }), { numRuns: 500 });
  });

  it('twillctl output carries no terminal control characters', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
      assert.ok(!/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(terminalSafe(s)));
    }), { numRuns: 1000 });
    assert.equal(terminalSafe('10.244.1.0-24\x1b]0;owned\x07'), '10.244.1.0-24\\x1b]0;owned\\x07');
  });
});
