// Opens the etcd registry for one command and turns connection failures into one message
// that names the endpoints, within the call deadline (an unreachable etcd must not hang).
// etcd3 and grpc-js are loaded on first use: they are most of the start-up time, and
// `--help`, `config validate` and usage errors do not need them.
import type { EtcdRegistry } from '../lib/etcd/registry.js';
import { CtlError, UsageError } from './errors.js';
import type { EtcdSettings } from './options.js';

export function describeEndpoints(s: EtcdSettings): string {
  return s.endpoints.join(',');
}

/** etcd3's error classes for "no answer", once the library is loaded. */
type ErrorClass = new (...a: never[]) => Error;
let noAnswerClasses: { unavailable: ErrorClass[]; deadline: ErrorClass[] } = { unavailable: [], deadline: [] };

/** Our own watchdog's: the whole operation got no answer in time. */
class WatchdogExpired extends Error {}

// grpc status codes (grpc-js errors that etcd3 did not cast carry them in .code) and the
// socket errnos of an endpoint nobody answers on
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;
const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** Why etcd gave no answer, by error class and code (never by message text); undefined: it answered. */
function noAnswer(e: unknown): 'deadline' | 'unreachable' | undefined {
  if (e instanceof WatchdogExpired || noAnswerClasses.deadline.some((c) => e instanceof c)) return 'deadline';
  if (noAnswerClasses.unavailable.some((c) => e instanceof c)) return 'unreachable';
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 3; x = x.cause as typeof x, depth++) {
    if (x.code === GRPC_DEADLINE_EXCEEDED) return 'deadline';
    if (x.code === GRPC_UNAVAILABLE || (typeof x.code === 'string' && UNREACHABLE_ERRNOS.has(x.code))) return 'unreachable';
  }
  return undefined;
}

export function etcdFailure(s: EtcdSettings, e: unknown): CtlError {
  // grpc-js appends resolver notes after the first sentence; the endpoint and cause suffice.
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0].replace(/\.?\s*Resolution note:.*$/, '').replace(/,name resolution:.*$/, '');
  const why = noAnswer(e);
  if (why) {
    const slow = why === 'deadline' ? ` (no answer within ${s.timeoutMs} ms)` : '';
    return new CtlError(`cannot reach etcd at ${describeEndpoints(s)}${slow}: ${msg}`);
  }
  return new CtlError(`etcd at ${describeEndpoints(s)}: ${msg}`);
}

type Etcd3 = import('etcd3').Etcd3;

function connectOne(connectEtcd: typeof import('../lib/etcd/registry.js').connectEtcd, s: EtcdSettings, endpoints: string[]): Etcd3 {
  try {
    return connectEtcd({ endpoints, caFile: s.caFile, certFile: s.certFile, keyFile: s.keyFile, callTimeoutMs: s.timeoutMs });
  } catch (e) {
    throw new CtlError(`etcd at ${endpoints.join(',')}: ${(e as Error).message}`);
  }
}

/**
 * A client for the first endpoint that answers. The shared client spreads calls over all
 * endpoints without failing over, so with one member down every other call would fail;
 * probing them in parallel costs one round trip and keeps the CLI working.
 */
async function openClient(s: EtcdSettings): Promise<Etcd3> {
  const { connectEtcd } = await import('../lib/etcd/registry.js');
  if (s.endpoints.length === 1) return connectOne(connectEtcd, s, s.endpoints);
  const clients = s.endpoints.map((ep) => connectOne(connectEtcd, s, [ep]));
  try {
    const winner = await Promise.any(clients.map(async (c) => (await c.get('/').exec(), c)));
    for (const c of clients) if (c !== winner) c.close();
    return winner;
  } catch (e) {
    for (const c of clients) c.close();
    throw etcdFailure(s, e instanceof AggregateError ? e.errors[0] : e);
  }
}

/**
 * Runs `fn` with a registry and closes the client afterwards. Errors that are not already
 * CtlErrors are reported as etcd failures naming the endpoints. A watchdog bounds the whole
 * operation so a connection stuck in TLS or DNS still ends within the deadline.
 */
export async function withRegistry<T>(s: EtcdSettings, fn: (r: EtcdRegistry) => Promise<T>, { bounded = true } = {}): Promise<T> {
  const { EtcdRegistry } = await import('../lib/etcd/registry.js');
  const etcd3 = await import('etcd3');
  noAnswerClasses = { unavailable: [etcd3.GRPCUnavailableError, etcd3.ClientRuntimeError], deadline: [etcd3.GRPCDeadlineExceededError] };
  const client = await openClient(s);
  const registry = new EtcdRegistry(client, s.prefix);
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = fn(registry);
    if (!bounded) return await work;
    // Several sequential calls may each use their own deadline; the watchdog allows a few.
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WatchdogExpired('no answer (deadline exceeded)')), s.timeoutMs * 4);
    });
    return await Promise.race([work, watchdog]);
  } catch (e) {
    if (e instanceof CtlError || e instanceof UsageError) throw e;
    throw etcdFailure(s, e);
  } finally {
    if (timer) clearTimeout(timer);
    client.close();
  }
}
