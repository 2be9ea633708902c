// How twillctl words an etcd failure: "cannot reach" is decided by the error's class, grpc
// status code or socket errno, never by what its message happens to say.
import assert from 'node:assert/strict';
import { etcdFailure } from '../../ctl/etcd.js';

const s = { endpoints: ['http://127.0.0.1:2379'], prefix: '/p', timeoutMs: 1500 };
const withCode = (message: string, code: unknown, cause?: unknown) => Object.assign(new Error(message), { code, cause });

describe('twillctl etcd failures', () => {
  it('a grpc UNAVAILABLE code or a refused socket is "cannot reach"', () => {
    assert.match(etcdFailure(s, withCode('14 UNAVAILABLE: No connection established', 14)).message, /^cannot reach etcd at http:\/\/127\.0\.0\.1:2379: /);
    assert.match(etcdFailure(s, withCode('fetch failed', undefined, withCode('connect ECONNREFUSED', 'ECONNREFUSED'))).message, /^cannot reach etcd/);
  });

  it('a grpc DEADLINE_EXCEEDED code says how long it waited', () => {
    assert.match(etcdFailure(s, withCode('4 DEADLINE_EXCEEDED: Deadline exceeded', 4)).message, /^cannot reach etcd at \S+ \(no answer within 1500 ms\)/);
  });

  it('an answer that merely mentions a connection word is the answer, not an outage', () => {
    const m = etcdFailure(s, withCode('etcdserver: permission denied (ECONNREFUSED deadline UNAVAILABLE)', 7)).message;
    assert.match(m, /^etcd at http:\/\/127\.0\.0\.1:2379: etcdserver: permission denied/);
  });
});
