// runSync, the plugin's way to run `ip`: through Node's spawn_sync binding when present, else
// child_process.spawnSync. Both paths must behave the same: output, exit status, stderr,
// stdin, environment, and a CommandError naming the command when it fails.
import assert from 'node:assert/strict';
import { CommandError, runSync, spawnCapture } from '../../lib/exec.js';

describe('runSync (plugin hot path)', () => {
  it('takes the binding path on this Node, so the speed-up is real', () => {
    assert.equal(spawnCapture('true', []).via, 'binding');
    assert.equal(spawnCapture('true', [], {}, 'module').via, 'module');
  });

  const cases: [string, string, string[], { input?: string; env?: Record<string, string>; timeoutMs?: number }][] = [
    ['stdin through to stdout', 'cat', [], { input: 'line one\nline two\n' }],
    ['exit status and stderr of a failure', 'ls', ['/twill-no-such-dir'], {}],
    ['extra environment on top of ours', 'env', [], { env: { TWILL_EXEC_TEST: 'yes' } }],
    ['a child killed by SIGTERM at its timeout', 'sleep', ['30'], { timeoutMs: 100 }],
    ['a command that does not exist', 'twill-no-such-command', [], {}],
  ];
  for (const [what, cmd, args, opts] of cases) {
    it(`binding and module paths agree: ${what}`, () => {
      const a = spawnCapture(cmd, args, opts);
      const b = spawnCapture(cmd, args, opts, 'module');
      assert.equal(a.status, b.status);
      assert.equal(a.signal, b.signal);
      assert.equal(a.stdout, b.stdout);
      assert.equal(a.errno, b.errno);
      if (a.errno === undefined) assert.equal(a.stderr, b.stderr);
    });
  }

  it('returns stdout and feeds stdin', () => {
    assert.equal(runSync('cat', [], { input: 'abc' }), 'abc');
    assert.match(runSync('env', [], { env: { TWILL_EXEC_TEST: 'v1' } }), /^TWILL_EXEC_TEST=v1$/m);
  });

  it('throws a CommandError with the command, exit code and stderr', () => {
    assert.throws(
      () => runSync('ls', ['/twill-no-such-dir']),
      (e: unknown) => e instanceof CommandError && e.exitCode === 2 && /No such file/.test(e.stderr) && e.command.join(' ') === 'ls /twill-no-such-dir',
    );
  });

  it('names the reason when the command cannot be started', () => {
    assert.throws(() => runSync('twill-no-such-command', []), (e: unknown) => e instanceof CommandError && e.exitCode === null && /ENOENT/.test(e.message));
  });
});
