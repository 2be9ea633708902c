// runSync / spawnCapture: synchronous children through child_process.spawnSync (the internal
// spawn_sync binding path was removed once the plugin stopped spawning `ip` on its hot path):
// output, exit status, signal, stdin, environment, and a CommandError naming the command.
import assert from 'node:assert/strict';
import { CommandError, runSync, spawnCapture } from '../../lib/exec.js';

describe('runSync', () => {
  it('runs through the public spawnSync, whatever path is asked for', () => {
    assert.equal(spawnCapture('true', []).via, 'module');
    assert.equal(spawnCapture('true', [], {}, 'module').via, 'module');
  });

  it('captures stdin through to stdout', () => {
    const r = spawnCapture('cat', [], { input: 'line one\nline two\n' });
    assert.deepEqual([r.status, r.signal, r.stdout, r.errno], [0, null, 'line one\nline two\n', undefined]);
  });

  it('reports exit status and stderr of a failure', () => {
    const r = spawnCapture('ls', ['/twill-no-such-dir']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /No such file/);
  });

  it('reports a child stopped at its timeout (ETIMEDOUT, no exit status)', () => {
    const r = spawnCapture('sleep', ['30'], { timeoutMs: 100 });
    assert.equal(r.status, null);
    assert.equal(r.errno, -110);
    assert.match(r.stderr, /ETIMEDOUT/);
  });

  it('reports a command that does not exist with an errno', () => {
    const r = spawnCapture('twill-no-such-command', []);
    assert.equal(typeof r.errno, 'number');
    assert.equal(r.status, null);
  });

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
