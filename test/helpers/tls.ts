// A throw-away PKI for TLS tests, made with openssl (argument arrays, no shell): a CA, a
// server certificate for given IP addresses, a client certificate. Files live in `dir`.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { run } from '../../lib/exec.js';

export interface TestPki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export async function makeTestPki(dir: string, serverIps: string[]): Promise<TestPki> {
  const f = (n: string) => path.join(dir, n);
  const days = ['-days', '2'];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=twill-test-ca', ...days]);
  const issue = async (name: string, cn: string, ext: string) => {
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    writeFileSync(f(`${name}.ext`), ext);
    await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
      '-CAcreateserial', '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`), ...days]);
  };
  await issue('server', 'etcd', `subjectAltName=${serverIps.map((ip) => `IP:${ip}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await issue('client', 'twilld', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'),
  };
}
