// The command line contract: exit 2 for usage errors, --help with an example on every
// command, shell completion, the etcd environment variables, and an unreachable etcd reported
// as exit 1 with the endpoint in the message (connection refused, and a server that never answers).
import assert from 'node:assert/strict';
import { createServer, Server, Socket } from 'node:net';
import { EtcdServer, freePort } from '../../harness/etcd.js';
import { putConfig } from '../helpers/ctl-seed.js';
import { runCtl } from '../helpers/twillctl.js';

const COMMANDS = [
  ['config'], ['config', 'get'], ['config', 'set'], ['config', 'validate'],
  ['leases'], ['leases', 'list'], ['leases', 'get'], ['leases', 'watch'], ['leases', 'release'],
  ['reserve'], ['unreserve'], ['usage'], ['doctor'],
];

describe('twillctl command line', function () {
  it('prints help with an example for every command (exit 0)', async () => {
    for (const cmd of [[], ...COMMANDS]) {
      const r = await runCtl([...cmd, '--help']);
      assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Examples:$/m, `${cmd.join(' ')} --help has no example`);
      assert.match(r.stdout, new RegExp(`twillctl ${cmd.join(' ')}`));
    }
  });

  it('exits 2 with a message on stderr for usage errors, without a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [['frobnicate'], /Unknown argument: frobnicate/],
      [['leases', 'list', '--bogus'], /Unknown argument(s)?: bogus/],
      [['leases', 'list', '-o', 'xml'], /Invalid values:[\s\S]*output/],
      [['leases', 'get'], /Not enough non-option arguments/],
      [['leases', 'release', 'not-a-subnet', '--yes'], /not an IPv4 subnet/],
      [['reserve', '10.244.1.0/24'], /--public-ip is required/],
      [['leases', 'list', '--etcd-endpoints', 'localhost:2379'], /not an http\(s\):\/\/host:port URL/],
      [['leases', 'list', '--etcd-timeout', '5'], /--etcd-timeout/],
      [['usage', '--fail-above', '150'], /--fail-above/],
      [['config', 'validate', '/nonexistent/twill-c.json'], /cannot read \/nonexistent\/twill-c\.json: ENOENT/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCtl(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('prints a completion script, and completes command names', async () => {
    const script = await runCtl(['completion']);
    assert.equal(script.code, 0, script.stderr);
    assert.match(script.stdout, /twillctl --get-yargs-completions/);
    const words = await runCtl(['--get-yargs-completions', 'twillctl', 'lea']);
    assert.equal(words.code, 0);
    assert.match(words.stdout, /^leases/m);
    const sub = await runCtl(['--get-yargs-completions', 'twillctl', 'leases', '']);
    for (const w of ['list', 'get', 'watch', 'release']) assert.match(sub.stdout, new RegExp(`^${w}`, 'm'));
  });

  describe('unreachable etcd', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    let silentPort = 0;
    before(async () => {
      // accepts TCP connections and never speaks: the call can only end by its deadline
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      silentPort = (silent.address() as { port: number }).port;
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent?.close(r));
    });

    it('connection refused: exit 1, message names the endpoint', async () => {
      const port = await freePort();
      const ep = `http://127.0.0.1:${port}`;
      for (const args of [['leases', 'list'], ['config', 'get'], ['usage'], ['config', 'set', '-']]) {
        const r = await runCtl([...args, '--etcd-endpoints', ep], { input: '{"Network":"10.1.0.0/16"}' });
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^twillctl: cannot reach etcd at ${ep.replace(/\./g, '\\.')}`, 'm'));
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      }
    });

    it('a server that never answers: exit 1 after the call deadline, naming every endpoint', async () => {
      const ep = `http://127.0.0.1:${silentPort}`;
      const refused = `http://127.0.0.1:${await freePort()}`;
      const r = await runCtl(['leases', 'list', '-o', 'json', '--etcd-endpoints', `${ep},${refused}`, '--etcd-timeout', '1500']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`cannot reach etcd at ${ep.replace(/\./g, '\\.')},${refused.replace(/\./g, '\\.')}`));
    });
  });

  describe('etcd settings from the environment (same names as twilld)', () => {
    let etcd: EtcdServer;
    before(async () => {
      etcd = await new EtcdServer().start();
      await putConfig(etcd, '/twill-c/env', { Network: '10.33.0.0/16' });
    });
    after(async () => {
      await etcd?.destroy();
    });

    it('reads TWILLD_ETCD_ENDPOINTS and TWILLD_ETCD_PREFIX; flags override them', async () => {
      const env = { TWILLD_ETCD_ENDPOINTS: etcd.endpoint, TWILLD_ETCD_PREFIX: '/twill-c/env' };
      const r = await runCtl(['config', 'get', '-o', 'json'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.key, '/twill-c/env/config');
      assert.equal(r.json.effective.Network, '10.33.0.0/16');
      const other = await runCtl(['config', 'get', '--etcd-prefix', '/twill-c/none'], { env });
      assert.equal(other.code, 1);
      assert.match(other.stderr, /no network config at \/twill-c\/none\/config/);
    });

    it('works when one of several endpoints is down (every time, not by luck of the pick)', async () => {
      const dead = `http://127.0.0.1:${await freePort()}`;
      for (let i = 0; i < 6; i++) {
        const order = i % 2 ? `${dead},${etcd.endpoint}` : `${etcd.endpoint},${dead}`;
        const r = await runCtl(['config', 'get', '-o', 'json', '--etcd-endpoints', order, '--etcd-prefix', '/twill-c/env']);
        assert.equal(r.code, 0, `${order}: ${r.stderr}`);
        assert.equal(r.json.effective.Network, '10.33.0.0/16');
      }
    });
  });
});
