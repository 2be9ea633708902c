// A TCP -> Unix socket relay. Daemons in test network namespaces cannot reach the test
// process's loopback, but the filesystem is shared: the fake API server listens on a Unix
// socket and this relay, started inside a namespace, accepts TCP there and forwards each
// connection to the socket. Run as a script: node kube-relay.js HOST:PORT SOCKET_PATH
import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { World } from './world.js';

export function startRelay(world: World, ns: string, listen: string, socketPath: string): Promise<ChildProcess> {
  const child = world.spawnIn(ns, process.execPath, [__filename, listen, socketPath]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stderr!.on('data', (b) => (out += b));
    child.stdout!.on('data', (b) => {
      out += b;
      if (out.includes('relay listening')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${out}`)));
  });
}

function main(listen: string, socketPath: string): void {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  server.listen(port, host, () => console.log(`relay listening on ${listen} -> ${socketPath}`));
  process.on('SIGTERM', () => process.exit(0));
}

if (require.main === module) main(process.argv[2], process.argv[3]);
