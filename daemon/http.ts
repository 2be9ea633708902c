// /healthz (the process is alive and its loops are turning), /readyz (subnet.env written and
// the dataplane programmed: the CNI plugin can start pods) and /metrics for Prometheus.
import { createServer, Server } from 'node:http';
import type { DaemonMetrics } from './metrics.js';

export interface HealthState {
  ready(): boolean;
  /** why the daemon cannot get ready by itself (shown on /readyz), if it knows */
  notReadyReason?(): string | undefined;
  /** undefined when healthy, else why not */
  unhealthy(): string | undefined;
}

export async function startHttpServer(host: string, port: number, health: HealthState, metrics: DaemonMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/healthz') {
      const why = health.unhealthy();
      return why ? send(503, `unhealthy: ${why}\n`) : send(200, 'ok\n');
    }
    if (path === '/readyz') {
      if (health.ready()) return send(200, 'ready\n');
      const why = health.notReadyReason?.();
      return send(503, why ? `not ready: ${why}\n` : 'not ready\n');
    }
    if (path === '/metrics') return send(200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
    send(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
