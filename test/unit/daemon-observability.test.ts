import assert from 'node:assert/strict';
import { createLogger } from '../../daemon/log.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { Trigger } from '../../daemon/trigger.js';
import { Backoff } from '../../lib/backoff.js';

describe('logs, metrics, loop helpers', () => {
  it('logs one JSON object per line, at or above the level, with context fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l)).with({ component: 'lease' });
    log.debug('hidden');
    log.info('acquired', { subnet: '10.244.3.0/24' });
    log.error('failed', { error: new Error('etcd down') });
    assert.equal(lines.length, 2);
    const [a, b] = lines.map((l) => JSON.parse(l));
    assert.equal(a.level, 'info');
    assert.equal(a.msg, 'acquired');
    assert.equal(a.component, 'lease');
    assert.equal(a.subnet, '10.244.3.0/24');
    assert.ok(!Number.isNaN(Date.parse(a.time)));
    assert.equal(b.error, 'etcd down');
  });

  it('renders Prometheus text: counters with labels, gauges, a cumulative histogram', () => {
    const m = new DaemonMetrics();
    m.renewals.inc({ result: 'ok' });
    m.renewals.inc({ result: 'ok' });
    m.renewals.inc({ result: 'failed' });
    m.peers.set(3);
    m.programSeconds.observe(0.02);
    m.programSeconds.observe(3);
    const text = m.render();
    assert.match(text, /# TYPE twill_lease_renewals_total counter\n/);
    assert.match(text, /^twill_lease_renewals_total\{result="ok"\} 2$/m);
    assert.match(text, /^twill_lease_renewals_total\{result="failed"\} 1$/m);
    assert.match(text, /^twill_peers 3$/m);
    assert.match(text, /^twill_peer_program_seconds_bucket\{le="0.01"\} 0$/m);
    assert.match(text, /^twill_peer_program_seconds_bucket\{le="0.025"\} 1$/m);
    assert.match(text, /^twill_peer_program_seconds_bucket\{le="5"\} 2$/m);
    assert.match(text, /^twill_peer_program_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^twill_peer_program_seconds_count 2$/m);
    for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) (twill|process|nodejs)_\w+ .+|(twill|process|nodejs)_\w+(\{[^}]*\})? [0-9.e+-]+)$/, line);
    // the process's own memory, read at each render
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
    assert.ok(rss > 10 * 1048576 && rss < 4096 * 1048576, `a plausible RSS: ${rss}`);
    const used = Number(/^nodejs_heap_size_used_bytes (\d+)$/m.exec(text)?.[1]);
    const total = Number(/^nodejs_heap_size_total_bytes (\d+)$/m.exec(text)?.[1]);
    assert.ok(used > 0 && used <= total, `heap used ${used} of ${total}`);
  });

  it('a trigger coalesces kicks into one pass and stops waiting on abort', async () => {
    const t = new Trigger(0);
    t.kick();
    t.kick();
    const ac = new AbortController();
    await t.wait(ac.signal);
    let woke = false;
    const p = t.wait(ac.signal).then(() => (woke = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(woke, false, 'both kicks were consumed by the first wait');
    ac.abort();
    await p;
    assert.equal(woke, true);
  });

  it('backoff doubles up to its cap, with jitter, and resets', () => {
    const b = new Backoff(100, 400);
    const d = [b.next(), b.next(), b.next(), b.next()];
    assert.ok(d[0] >= 80 && d[0] <= 120);
    assert.ok(d[1] >= 160 && d[1] <= 240);
    assert.ok(d[3] >= 320 && d[3] <= 480);
    b.reset();
    assert.ok(b.next() <= 120);
  });
});
