// The bad-input matrix: every malformed input gets the spec's error JSON on stdout with the
// right code, exit status 1, a message naming the culprit, no stack trace, and no state.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getLink, listLinks } from '../../lib/kernel/ip.js';
import { runCni, TWILL_BIN } from '../../harness/cni.js';
import { PluginNode } from '../helpers/plugin-node.js';
import { DEFAULT_PATH, Outcome, runBinary } from '../../harness/spawn.js';
import { netnsPath, World } from '../../harness/world.js';

interface Case {
  name: string;
  code: number;
  msg: RegExp;
  /** changes to the plugin config */
  conf?: Record<string, unknown>;
  /** raw stdin instead of a config */
  stdin?: string;
  /** environment overrides; undefined deletes the variable */
  env?: Record<string, string | undefined>;
  command?: string;
}

const ALL_FIELDS = ['cniVersion', 'code', 'msg', 'details'];

describe('plugin bad-input matrix (built binary)', function () {
  const world = new World('p');
  let node: PluginNode;
  let podPath: string;
  let plainFile: string;

  before(async () => {
    node = await PluginNode.create(world, 'bi');
    podPath = (await node.addPod()).path;
    plainFile = path.join(world.tmp, 'not-a-netns');
    writeFileSync(plainFile, 'x');
  });
  after(() => world.cleanup());

  const cases: Case[] = [
    { name: 'invalid JSON', stdin: '{"cniVersion": "1.0.0",', code: 6, msg: /invalid JSON on stdin/ },
    { name: 'JSON that is not an object', stdin: '[1,2]', code: 6, msg: /must be a JSON object/ },
    { name: 'missing CNI_COMMAND', env: { CNI_COMMAND: undefined }, code: 4, msg: /CNI_COMMAND is not set/ },
    { name: 'unknown CNI_COMMAND', env: { CNI_COMMAND: 'FROB' }, code: 4, msg: /CNI_COMMAND="FROB"/ },
    { name: 'missing CNI_CONTAINERID', env: { CNI_CONTAINERID: undefined }, code: 4, msg: /CNI_CONTAINERID is not set/ },
    { name: 'container ID with path traversal', env: { CNI_CONTAINERID: '../../../../tmp/evil' }, code: 4, msg: /CNI_CONTAINERID=.*must match/ },
    { name: 'container ID starting with a dash', env: { CNI_CONTAINERID: '-abc' }, code: 4, msg: /CNI_CONTAINERID="-abc"/ },
    { name: 'container ID with a space', env: { CNI_CONTAINERID: 'ab c' }, code: 4, msg: /CNI_CONTAINERID/ },
    { name: 'container ID with a slash', env: { CNI_CONTAINERID: 'abc/def' }, code: 4, msg: /CNI_CONTAINERID/ },
    { name: 'empty container ID', env: { CNI_CONTAINERID: '' }, code: 4, msg: /CNI_CONTAINERID is empty/ },
    { name: 'missing CNI_IFNAME', env: { CNI_IFNAME: undefined }, code: 4, msg: /CNI_IFNAME is not set/ },
    { name: 'interface name of 16 characters', env: { CNI_IFNAME: 'eth0123456789012' }, code: 4, msg: /CNI_IFNAME=.*longer than 15/ },
    { name: 'interface name with /', env: { CNI_IFNAME: 'eth/0' }, code: 4, msg: /CNI_IFNAME=.*must not contain/ },
    { name: 'interface name with :', env: { CNI_IFNAME: 'eth:0' }, code: 4, msg: /CNI_IFNAME=.*must not contain/ },
    { name: 'interface name with whitespace', env: { CNI_IFNAME: 'eth 0' }, code: 4, msg: /CNI_IFNAME=.*must not contain/ },
    { name: 'interface name ..', env: { CNI_IFNAME: '..' }, code: 4, msg: /CNI_IFNAME=".."/ },
    { name: 'missing CNI_NETNS', env: { CNI_NETNS: undefined }, code: 4, msg: /CNI_NETNS is not set/ },
    { name: 'CNI_NETNS that does not exist', env: { CNI_NETNS: '/var/run/netns/twill-no-such-ns' }, code: 4, msg: /CNI_NETNS=.* is not a network namespace/ },
    { name: 'CNI_NETNS that is a plain file', env: { CNI_NETNS: 'PLAIN' }, code: 4, msg: /CNI_NETNS=.* is not a network namespace/ },
    { name: 'CNI_NETNS that is the plugin\'s own namespace', env: { CNI_NETNS: 'NODE' }, code: 4, msg: /CNI_NETNS=.* own \(host\) network namespace/ },
    { name: 'CNI_NETNS own namespace via /proc/self', env: { CNI_NETNS: '/proc/self/ns/net' }, code: 4, msg: /own \(host\) network namespace/ },
    { name: 'malformed CNI_ARGS', env: { CNI_ARGS: 'IgnoreUnknown=1;garbage' }, code: 4, msg: /CNI_ARGS: "garbage" is not KEY=VALUE/ },
    { name: 'CNI_ARGS IP that is not an address', env: { CNI_ARGS: 'IP=10.244.3.300' }, code: 4, msg: /CNI_ARGS IP: .*not an IP address/ },
    { name: 'missing cniVersion', conf: { cniVersion: undefined }, code: 1, msg: /cniVersion is missing/ },
    { name: 'cniVersion 0.2.0', conf: { cniVersion: '0.2.0' }, code: 1, msg: /cniVersion "0\.2\.0" is not supported/ },
    { name: 'cniVersion 2.0.0', conf: { cniVersion: '2.0.0' }, code: 1, msg: /cniVersion "2\.0\.0" is not supported/ },
    { name: 'CHECK under 0.3.1', command: 'CHECK', conf: { cniVersion: '0.3.1' }, code: 1, msg: /CHECK needs cniVersion 0\.4\.0/ },
    { name: 'unsupported field ipam', conf: { ipam: { type: 'host-local' } }, code: 2, msg: /unsupported field "ipam"/ },
    { name: 'unsupported field delegate (flannel)', conf: { delegate: { isDefaultGateway: true } }, code: 2, msg: /unsupported field "delegate"/ },
    { name: 'wrong type', conf: { type: 'bridge' }, code: 7, msg: /type must be "twill"/ },
    { name: 'missing name', conf: { name: undefined }, code: 7, msg: /name must be a string/ },
    { name: 'name with a slash', conf: { name: '../etc' }, code: 7, msg: /name must be a string matching/ },
    { name: 'bridge name too long', conf: { bridge: 'a-very-long-bridge0' }, code: 7, msg: /bridge is not a valid interface name/ },
    { name: 'mtu too small', conf: { mtu: 10 }, code: 7, msg: /mtu must be an integer from 68 to 65535, got 10/ },
    { name: 'mtu as a string', conf: { mtu: '1500' }, code: 7, msg: /mtu must be an integer/ },
    { name: 'isDefaultGateway not a boolean', conf: { isDefaultGateway: 'yes' }, code: 7, msg: /isDefaultGateway must be true or false/ },
    { name: 'hairpinMode not a boolean', conf: { hairpinMode: 1 }, code: 7, msg: /hairpinMode must be true or false/ },
    { name: 'relative dataDir', conf: { dataDir: 'ipam' }, code: 7, msg: /dataDir must be an absolute path/ },
    { name: 'empty subnetFile', conf: { subnetFile: '' }, code: 7, msg: /subnetFile must be a non-empty string/ },
    { name: 'dns not an object', conf: { dns: 'x' }, code: 7, msg: /dns must be an object/ },
    { name: 'dns nameserver not an address', conf: { dns: { nameservers: ['dns.example'] } }, code: 7, msg: /dns\.nameservers\[0\] is not an IP address/ },
    { name: 'args.cni.ips not a list', conf: { args: { cni: { ips: '10.244.3.9' } } }, code: 7, msg: /args\.cni\.ips must be a list/ },
    { name: 'runtimeConfig.ips entry not an address', conf: { runtimeConfig: { ips: ['nope'] } }, code: 7, msg: /runtimeConfig\.ips\[0\]: "nope" is not an IP address/ },
    { name: 'requested IP outside the node subnet', conf: { args: { cni: { ips: ['10.244.4.9'] } } }, code: 7, msg: /requested IP 10\.244\.4\.9 is not in this node's subnet 10\.244\.3\.0\/24/ },
    { name: 'requested IP = gateway', conf: { args: { cni: { ips: ['10.244.3.1'] } } }, code: 7, msg: /requested IP 10\.244\.3\.1 is the gateway/ },
    { name: 'requested IP = broadcast', conf: { runtimeConfig: { ips: ['10.244.3.255/24'] } }, code: 7, msg: /is the broadcast address/ },
    { name: 'two different requested IPs', conf: { args: { cni: { ips: ['10.244.3.9', '10.244.3.10'] } } }, code: 7, msg: /exactly one IPv4 address/ },
    { name: 'prevResult that is not an object', command: 'CHECK', conf: { prevResult: 'x' }, code: 6, msg: /prevResult: must be an object/ },
    { name: 'no subnet file yet', conf: { subnetFile: '/run/twill-test-no-such/subnet.env' }, code: 11, msg: /subnet file .* does not exist yet/ },
    { name: 'malformed subnet file', conf: { subnetFile: 'BADSUBNET' }, code: 7, msg: /FLANNEL_MTU="abc" is not a valid MTU/ },
  ];

  for (const c of cases) {
    it(`${c.name} → code ${c.code}`, async () => {
      const badSubnet = path.join(world.tmp, 'bad-subnet.env');
      writeFileSync(badSubnet, 'FLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=abc\n');
      const conf: Record<string, unknown> = { ...node.conf('1.1.0'), ...c.conf };
      for (const [k, v] of Object.entries(c.conf ?? {})) if (v === undefined) delete conf[k];
      if (conf.subnetFile === 'BADSUBNET') conf.subnetFile = badSubnet;
      const env: Record<string, string> = { CNI_COMMAND: c.command ?? 'ADD', CNI_CONTAINERID: 'bad-input-1', CNI_IFNAME: 'eth0', CNI_NETNS: podPath };
      for (const [k, v] of Object.entries(c.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v === 'PLAIN' ? plainFile : v === 'NODE' ? netnsPath(node.ns) : v;
      }
      // Spawned with exactly `env` (runCni always sets some variables; these cases unset them).
      const o = await runRaw(node.ns, env, c.stdin ?? JSON.stringify(conf));
      assert.equal(o.code, 1, `exit status: ${o.stdout}`);
      assert.ok(o.json, `stdout is JSON: ${o.stdout}`);
      assert.equal(o.json.code, c.code, o.stdout);
      assert.match(o.json.msg, c.msg);
      for (const k of Object.keys(o.json)) assert.ok(ALL_FIELDS.includes(k), `unexpected field ${k}`);
      assert.doesNotMatch(o.stdout + o.stderr, /\n\s+at /, 'no stack trace');
      // no state left behind
      assert.deepEqual(existsSync(node.dataDir) ? readdirSync(node.dataDir).filter((f) => /^\d/.test(f)) : [], []);
      assert.deepEqual((await listLinks(netnsPath(node.ns))).filter((l) => l.ifname.startsWith('twv')), []);
      assert.equal(await getLink(podPath, 'eth0'), undefined);
    });
  }

  it('a container ID full of dots writes nothing outside dataDir', async () => {
    const before = new Set(readdirSync(world.tmp));
    const conf = node.conf('1.1.0');
    const o = await runCni({ command: 'ADD', config: conf, runIn: node.ns, containerId: 'a..', netns: podPath, ifname: 'eth0' });
    assert.equal(o.code, 0, o.stdout);
    const added = readdirSync(world.tmp).filter((f) => !before.has(f));
    assert.deepEqual(added, [], 'nothing new next to dataDir');
    const files = readdirSync(node.dataDir).sort();
    assert.deepEqual(files.filter((f) => !/^\d/.test(f)), ['last_reserved_ip.0', 'lock']);
    const d = await runCni({ command: 'DEL', config: conf, runIn: node.ns, containerId: 'a..', netns: podPath, ifname: 'eth0' });
    assert.equal(d.code, 0, d.stdout);
  });
});

function runRaw(ns: string, env: Record<string, string>, stdin: string): Promise<Outcome> {
  return runBinary(TWILL_BIN, [], { env: { PATH: DEFAULT_PATH, ...env }, input: stdin, netns: ns });
}
