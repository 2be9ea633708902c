// A real etcd (Debian's etcd-server) for tests: own temp data dir, started on loopback in the
// root namespace or on an address inside a test namespace, stopped and wiped by stop().
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runIn } from '../lib/kernel/ns.js';
import { netnsPath, stopProcess } from './world.js';

export interface EtcdOptions {
  /** namespace name to run in; default: the test's own (root) namespace */
  netns?: string;
  /** address to listen on; default 127.0.0.1 */
  host?: string;
  /** client port; default a free one (loopback) or 2379 (namespace) */
  port?: number;
  /** reuse a data dir (for restart tests) */
  dataDir?: string;
  /** serve clients over TLS and require client certificates signed by caFile */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export class EtcdServer {
  private child?: ChildProcess;
  readonly dataDir: string;
  readonly host: string;
  port = 0;
  private log = '';

  constructor(private readonly opts: EtcdOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'twill-etcd-'));
  }

  get endpoint(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.hostInUrl}:${this.port}`;
  }

  /** An IPv6 host goes in brackets in a URL. */
  private get hostInUrl(): string {
    return this.host.includes(':') ? `[${this.host}]` : this.host;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = this.opts.port ?? (this.opts.netns ? 2379 : await freePort());
    const peerPort = this.opts.netns ? 2380 : await freePort();
    const args = [
      '--name', 'twill-test',
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', `http://${this.hostInUrl}:${peerPort}`,
      '--initial-advertise-peer-urls', `http://${this.hostInUrl}:${peerPort}`,
      '--initial-cluster', `twill-test=http://${this.hostInUrl}:${peerPort}`,
      '--log-level', 'warn',
      '--logger', 'zap',
      ...(this.opts.tls ? ['--cert-file', this.opts.tls.certFile, '--key-file', this.opts.tls.keyFile,
        '--trusted-ca-file', this.opts.tls.caFile, '--client-cert-auth'] : []),
    ];
    const cmd = this.opts.netns ? 'nsenter' : 'etcd';
    const argv = this.opts.netns ? [`--net=${netnsPath(this.opts.netns)}`, '--', 'etcd', ...args] : args;
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (b) => (this.log += b));
    child.stderr!.on('data', (b) => (this.log += b));
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${this.log.slice(-2000)}`);
      if (await this.healthy()) return this;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become healthy: ${this.log.slice(-2000)}`);
  }

  private async healthy(): Promise<boolean> {
    try {
      // etcdctl prints the verdict on stderr; exit status 0 means healthy.
      await this.ctl(['endpoint', 'health']);
      return true;
    } catch {
      return false;
    }
  }

  /** etcdctl (API v3) against this server, inside its namespace. */
  ctl(args: readonly string[], input?: string): Promise<string> {
    const tls = this.opts.tls ? ['--cacert', this.opts.tls.caFile, '--cert', this.opts.tls.certFile, '--key', this.opts.tls.keyFile] : [];
    return runIn(this.opts.netns ? netnsPath(this.opts.netns) : undefined, 'etcdctl', ['--endpoints', this.endpoint, '--dial-timeout', '2s', ...tls, ...args], {
      input,
      env: { ETCDCTL_API: '3' },
    });
  }

  /** Stops the process; the data dir stays until destroy(). */
  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (!this.opts.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  get output(): string {
    return this.log;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
