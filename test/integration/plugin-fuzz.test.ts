// What fuzzing the built plugin found, pinned: a config nested thousands deep is a config
// error naming its field (not code 999 from a stack overflow), error messages stay readable
// JSON for strict readers when the input carries astral characters or lone surrogates, and a
// pod's host-side veth and the bridge accept no IPv6 router advertisements.
import assert from 'node:assert/strict';
import { readSysctl } from '../../lib/kernel/sysctl.js';
import { expectOk, PluginNode } from '../helpers/plugin-node.js';
import { netnsPath, World } from '../../harness/world.js';

/** JSON text of a value nested `depth` deep (built as text: JSON.stringify itself would overflow). */
const nested = (depth: number): string => {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '{"a":' : '[';
    close = (i % 2 ? '}' : ']') + close;
  }
  return `${open}1${close}`;
};
/** A lone surrogate escape a strict JSON reader (jq 1.6) refuses. */
const LONE_SURROGATE = /\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

describe('plugin hardening found by fuzzing (built binary)', function () {
  this.timeout(60000);
  const world = new World('pf');
  let node: PluginNode;

  before(async () => {
    node = await PluginNode.create(world, 'fz');
  });
  after(() => world.cleanup());

  for (const field of ['dns', 'args', 'runtimeConfig', 'prevResult', 'mtu', 'hairpinMode', 'subnetFile']) {
    for (const depth of [5000, 50000]) {
      // a malformed prevResult is a decode failure (6), as the README's error table says
      const code = field === 'prevResult' ? 6 : 7;
      it(`a ${field} nested ${depth} deep is code ${code} naming ${field}`, async () => {
        const pod = await node.addPod();
        const conf = JSON.stringify(node.conf('1.1.0', { [field]: 'NESTED' })).replace('"NESTED"', nested(depth));
        const o = await node.call('ADD', conf, pod);
        assert.equal(o.code, 1, o.stderr);
        assert.equal(o.json.code, code, o.stdout);
        assert.match(o.json.msg, new RegExp(field));
        assert.equal(o.stderr, '', 'no stack trace');
      });
    }
  }

  it('error messages cut on code points and never carry a lone surrogate', async () => {
    for (const name of ['a'.repeat(79) + '😀😀', '😀'.repeat(60), 'x\ud83d', '\udc00y', 'é'.repeat(100)]) {
      const o = await node.call('ADD', node.conf('1.1.0', { name }), await node.addPod());
      assert.equal(o.json.code, 7, o.stdout);
      assert.doesNotMatch(o.stdout, LONE_SURROGATE, `lone surrogate in ${o.stdout}`);
      assert.ok(![...o.json.msg as string].some((c) => c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff && c.length === 1), 'well-formed text');
    }
  });

  it('the bridge and the pod\'s host-side veth take no router advertisements (accept_ra=0)', async () => {
    const pod = await node.addPod();
    const add = expectOk(await node.call('ADD', node.conf(), pod), 'ADD').json;
    const host = add.interfaces.filter((i: { sandbox?: string }) => !i.sandbox).map((i: { name: string }) => i.name);
    assert.ok(host.includes('cni0') && host.length === 2, JSON.stringify(add.interfaces));
    for (const dev of host) assert.equal(await readSysctl(netnsPath(node.ns), `net.ipv6.conf.${dev}.accept_ra`), '0', dev);
    expectOk(await node.call('DEL', node.conf(), pod), 'DEL');
  });
});
