// Parsing of the CNI environment and the plugin's network config: every field, the defaults,
// and each error with its spec code.
import assert from 'node:assert/strict';
import { parseCniArgs, parseCniEnv } from '../../lib/cni/env.js';
import { CniError } from '../../lib/cni/errors.js';
import { decodeStdin, parseNetConf } from '../../cni-plugin/config.js';

const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/x' };
const BASE = { cniVersion: '1.1.0', name: 'cbr', type: 'twill' };

function code(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected a CniError, got ${e}`);
    return { code: e.code, msg: e.message };
  }
  assert.fail('expected an error');
}

describe('CNI environment', () => {
  it('parses a full ADD environment', () => {
    const env = parseCniEnv({ ...ENV, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' });
    assert.equal(env.command, 'ADD');
    assert.equal(env.containerId, 'c1');
    assert.equal(env.ifname, 'eth0');
    assert.equal(env.netns, '/var/run/netns/x');
    assert.equal(env.args.get('K8S_POD_NAME'), 'web-0');
    assert.deepEqual(env.path, ['/opt/cni/bin', '/usr/lib/cni']);
  });

  it('needs no container fields for VERSION, STATUS and GC, and no netns for DEL', () => {
    for (const c of ['VERSION', 'STATUS', 'GC']) assert.equal(parseCniEnv({ CNI_COMMAND: c }).command, c);
    assert.equal(parseCniEnv({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, undefined);
  });

  it('names the variable in each error (code 4)', () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ CNI_COMMAND: undefined }, /CNI_COMMAND is not set/],
      [{ CNI_COMMAND: 'add' }, /CNI_COMMAND="add" is not one of/],
      [{ CNI_CONTAINERID: undefined }, /CNI_CONTAINERID is not set/],
      [{ CNI_CONTAINERID: '' }, /CNI_CONTAINERID is empty/],
      [{ CNI_CONTAINERID: '_x' }, /CNI_CONTAINERID="_x" must match/],
      [{ CNI_CONTAINERID: 'a/b' }, /CNI_CONTAINERID/],
      [{ CNI_CONTAINERID: 'a\nb' }, /CNI_CONTAINERID="a\?b"/],
      [{ CNI_IFNAME: undefined }, /CNI_IFNAME is not set/],
      [{ CNI_IFNAME: 'x'.repeat(16) }, /longer than 15/],
      [{ CNI_IFNAME: 'a\tb' }, /must not contain/],
      [{ CNI_IFNAME: '.' }, /CNI_IFNAME="\."/],
      [{ CNI_NETNS: undefined }, /CNI_NETNS is not set/],
      [{ CNI_ARGS: 'A=1;=2' }, /CNI_ARGS: "=2" is not KEY=VALUE/],
    ];
    for (const [over, re] of cases) {
      const env: Record<string, string | undefined> = { ...ENV, ...over };
      const e = code(() => parseCniEnv(env));
      assert.equal(e.code, 4, e.msg);
      assert.match(e.msg, re);
    }
    assert.equal(parseCniEnv({ ...ENV, CNI_IFNAME: 'x'.repeat(15) }).ifname, 'x'.repeat(15));
    assert.equal(parseCniEnv({ ...ENV, CNI_CONTAINERID: 'A9_.-z' }).containerId, 'A9_.-z');
  });

  it('parses CNI_ARGS, keeping "=" inside values', () => {
    assert.deepEqual([...parseCniArgs('A=1;B=x=y;;C=')], [['A', '1'], ['B', 'x=y'], ['C', '']]);
  });
});

describe('network config', () => {
  const env = parseCniEnv(ENV);

  it('decodes only JSON objects (code 6)', () => {
    assert.equal(code(() => decodeStdin('{')).code, 6);
    assert.equal(code(() => decodeStdin('"x"')).code, 6);
    assert.equal(code(() => decodeStdin('null')).code, 6);
    assert.deepEqual(decodeStdin('{"a":1}'), { a: 1 });
  });

  it('fills in the defaults', () => {
    const c = parseNetConf({ ...BASE }, env);
    assert.equal(c.cniVersion, '1.1.0');
    assert.equal(c.name, 'cbr');
    assert.equal(c.subnetFile, '/run/flannel/subnet.env');
    assert.equal(c.bridge, 'cni0');
    assert.equal(c.dataDir, '/var/lib/cni/networks/cbr');
    assert.equal(c.isDefaultGateway, true);
    assert.equal(c.hairpinMode, true);
    assert.equal(c.mtu, undefined);
    assert.deepEqual(c.dns, {});
    assert.deepEqual(c.requestedIps, []);
    assert.equal(c.prevResult, undefined);
  });

  it('reads every field, and ignores unknown ones', () => {
    const c = parseNetConf(
      {
        ...BASE,
        subnetFile: '/etc/twill/subnet.env',
        bridge: 'br-pods',
        dataDir: '/srv/ipam',
        isDefaultGateway: false,
        hairpinMode: false,
        mtu: 1400,
        dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
        somethingElse: { from: 'a runtime' },
        capabilities: { ips: true },
      },
      env,
    );
    assert.equal(c.subnetFile, '/etc/twill/subnet.env');
    assert.equal(c.bridge, 'br-pods');
    assert.equal(c.dataDir, '/srv/ipam');
    assert.equal(c.isDefaultGateway, false);
    assert.equal(c.hairpinMode, false);
    assert.equal(c.mtu, 1400);
    assert.deepEqual(c.dns, { nameservers: ['10.96.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] });
  });

  it('accepts every supported version and refuses others (code 1)', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) assert.equal(parseNetConf({ ...BASE, cniVersion: v }, env).cniVersion, v);
    for (const v of [undefined, '0.2.0', '0.1.0', '1.2.0', 1]) {
      const e = code(() => parseNetConf({ ...BASE, cniVersion: v }, env));
      assert.equal(e.code, 1, String(v));
    }
  });

  it('refuses the fields it does not support (code 2)', () => {
    assert.equal(code(() => parseNetConf({ ...BASE, ipam: { type: 'host-local' } }, env)).code, 2);
    assert.equal(code(() => parseNetConf({ ...BASE, delegate: {} }, env)).code, 2);
  });

  it('names the field of each invalid value (code 7)', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: undefined }, /name must be/],
      [{ name: 'a/b' }, /name must be/],
      [{ type: 'flannel' }, /type must be "twill", got "flannel"/],
      [{ subnetFile: 'rel/subnet.env' }, /subnetFile must be an absolute path/],
      [{ subnetFile: 3 }, /subnetFile must be a non-empty string/],
      [{ dataDir: './x' }, /dataDir must be an absolute path/],
      [{ bridge: 'br 0' }, /bridge is not a valid interface name/],
      [{ bridge: '' }, /bridge must be a non-empty string/],
      [{ mtu: 67 }, /mtu must be an integer from 68 to 65535, got 67/],
      [{ mtu: 65536 }, /mtu must be/],
      [{ mtu: 1500.5 }, /mtu must be/],
      [{ isDefaultGateway: 'true' }, /isDefaultGateway must be true or false/],
      [{ hairpinMode: null }, /hairpinMode must be true or false/],
      [{ dns: [] }, /dns must be an object/],
      [{ dns: { nameservers: '1.1.1.1' } }, /dns\.nameservers must be a list of strings/],
      [{ dns: { nameservers: ['1.1.1'] } }, /dns\.nameservers\[0\] is not an IP address/],
      [{ dns: { domain: 5 } }, /dns\.domain must be a string/],
      [{ dns: { search: [1] } }, /dns\.search must be a list of strings/],
      [{ args: 'x' }, /args must be an object/],
      [{ args: { cni: [] } }, /args\.cni must be an object/],
      [{ args: { cni: { ips: ['10.0.0.1', 'x'] } } }, /args\.cni\.ips\[1\]: "x" is not an IP address/],
      [{ runtimeConfig: { ips: '10.0.0.1' } }, /runtimeConfig\.ips must be a list/],
      [{ runtimeConfig: 5 }, /runtimeConfig must be an object/],
      [{ args: { cni: { ips: ['10.0.0.1'] } }, runtimeConfig: { ips: ['10.0.0.2/24'] } }, /exactly one IPv4 address/],
    ];
    for (const [over, re] of cases) {
      const raw: Record<string, unknown> = { ...BASE, ...over };
      const e = code(() => parseNetConf(raw, env));
      assert.equal(e.code, 7, `${JSON.stringify(over)}: ${e.msg}`);
      assert.match(e.msg, re);
    }
  });

  it('collects a requested IP from args.cni.ips, runtimeConfig.ips or CNI_ARGS IP', () => {
    assert.equal(parseNetConf({ ...BASE, args: { cni: { ips: ['10.244.3.9'] } } }, env).requestedIps[0].ip.toString(), '10.244.3.9');
    const rc = parseNetConf({ ...BASE, runtimeConfig: { ips: ['10.244.3.10/24'] } }, env).requestedIps[0];
    assert.equal(rc.ip.toString(), '10.244.3.10');
    assert.equal(rc.source, 'runtimeConfig.ips[0]');
    const viaArgs = parseNetConf({ ...BASE }, parseCniEnv({ ...ENV, CNI_ARGS: 'IP=10.244.3.11' })).requestedIps[0];
    assert.equal(viaArgs.ip.toString(), '10.244.3.11');
    assert.equal(viaArgs.source, 'CNI_ARGS IP');
    // the same address from two sources is one request
    assert.equal(parseNetConf({ ...BASE, args: { cni: { ips: ['10.244.3.9'] } }, runtimeConfig: { ips: ['10.244.3.9/24'] } }, env).requestedIps.length, 1);
    const bad = code(() => parseNetConf({ ...BASE }, parseCniEnv({ ...ENV, CNI_ARGS: 'IP=nope' })));
    assert.equal(bad.code, 4);
  });

  it('takes one requested address per family (dual stack), refusing two of one family', () => {
    const both = parseNetConf({ ...BASE, args: { cni: { ips: ['10.244.3.9', 'fd00:10:244:3::9'] } } }, env).requestedIps;
    assert.deepEqual(both.map((r) => `${r.ip.family} ${r.ip}`), ['4 10.244.3.9', '6 fd00:10:244:3::9']);
    const rc = parseNetConf({ ...BASE, runtimeConfig: { ips: ['10.244.3.10/24', 'fd00:10:244:3::a/64'] } }, env).requestedIps;
    assert.deepEqual(rc.map((r) => r.ip.toString()), ['10.244.3.10', 'fd00:10:244:3::a']);
    const viaArgs = parseNetConf({ ...BASE }, parseCniEnv({ ...ENV, CNI_ARGS: 'IP=10.244.3.11,fd00:10:244:3::b' })).requestedIps;
    assert.deepEqual(viaArgs.map((r) => r.ip.toString()), ['10.244.3.11', 'fd00:10:244:3::b']);
    // one IPv6 address in two spellings is one request
    assert.equal(parseNetConf({ ...BASE, args: { cni: { ips: ['fd00:10:244:3::b'] } }, runtimeConfig: { ips: ['FD00:10:244:3:0:0:0:B/64'] } }, env).requestedIps.length, 1);
    const two = code(() => parseNetConf({ ...BASE, args: { cni: { ips: ['fd00::1:2', 'fd00::1:3'] } } }, env));
    assert.equal(two.code, 7);
    assert.match(two.msg, /requested IPs fd00::1:2, fd00::1:3: a twill pod gets exactly one IPv6 address/);
  });

  it('reads prevResult of any version and refuses a malformed one (code 6)', () => {
    const c = parseNetConf(
      { ...BASE, cniVersion: '0.3.1', prevResult: { cniVersion: '0.3.1', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ version: '4', address: '10.1.0.2/24', interface: 0 }], routes: [] } },
      env,
    );
    assert.deepEqual(c.prevResult?.ips, [{ address: '10.1.0.2/24', interface: 0 }]);
    assert.equal(code(() => parseNetConf({ ...BASE, prevResult: { ips: 'x' } }, env)).code, 6);
    assert.equal(code(() => parseNetConf({ ...BASE, prevResult: { ip4: { ip: '10.0.0.2/24' } } }, env)).code, 6);
  });

  it('reads the GC attachment list and validates it', () => {
    const gcEnv = parseCniEnv({ CNI_COMMAND: 'GC' });
    const c = parseNetConf({ ...BASE, 'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }] }, gcEnv);
    assert.deepEqual(c.validAttachments, [{ containerId: 'c1', ifname: 'eth0' }]);
    assert.deepEqual(parseNetConf({ ...BASE, 'cni.dev/attachments': [{ containerID: 'c2', ifname: 'net1' }] }, gcEnv).validAttachments, [{ containerId: 'c2', ifname: 'net1' }]);
    assert.deepEqual(parseNetConf({ ...BASE }, gcEnv).validAttachments, []);
    assert.equal(code(() => parseNetConf({ ...BASE, 'cni.dev/valid-attachments': [{ containerID: '../x', ifname: 'eth0' }] }, gcEnv)).code, 7);
    assert.equal(code(() => parseNetConf({ ...BASE, 'cni.dev/valid-attachments': {} }, gcEnv)).code, 7);
  });
});
