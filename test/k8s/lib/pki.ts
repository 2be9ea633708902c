// The cluster's PKI, made with openssl (argument arrays): one CA for every component, a
// serving certificate for the API server, client certificates whose subject is the identity
// the authorizers see (O = group, CN = user), and the service-account signing key pair.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../../lib/exec.js';

export interface CertPair {
  cert: string;
  key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = ['-days', '2'];

export class Pki {
  readonly ca: string;
  private readonly caKey: string;

  private constructor(readonly dir: string) {
    this.ca = path.join(dir, 'ca.crt');
    this.caKey = path.join(dir, 'ca.key');
  }

  static async create(dir: string): Promise<Pki> {
    const pki = new Pki(dir);
    await run('openssl', ['req', '-x509', ...EC, '-keyout', pki.caKey, '-out', pki.ca, '-subj', '/CN=twill-k8s-ca', ...DAYS]);
    return pki;
  }

  /** A certificate for `user` in `groups`; `sans` (IP:…, DNS:…) make it a serving certificate too. */
  async issue(name: string, user: string, groups: string[] = [], sans: string[] = []): Promise<CertPair> {
    const f = (ext: string) => path.join(this.dir, `${name}.${ext}`);
    const subj = groups.map((g) => `/O=${g}`).join('') + `/CN=${user}`;
    await run('openssl', ['req', ...EC, '-keyout', f('key'), '-out', f('csr'), '-subj', subj]);
    const ext = ['keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${sans.length ? 'serverAuth,' : ''}clientAuth`];
    if (sans.length) ext.push(`subjectAltName=${sans.join(',')}`);
    writeFileSync(f('ext'), ext.join('\n') + '\n');
    // a random serial of its own: nodes are set up at the same time, and -CAcreateserial's
    // shared ca.srl was read half-written by a concurrent signing ("Unable to load number")
    await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', this.ca, '-CAkey', this.caKey,
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', f('crt'), '-extfile', f('ext'), ...DAYS]);
    return { cert: f('crt'), key: f('key') };
  }

  /** The service-account token signing key (private) and its public half. */
  async serviceAccountKeys(): Promise<{ key: string; pub: string }> {
    const key = path.join(this.dir, 'sa.key');
    const pub = path.join(this.dir, 'sa.pub');
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await run('openssl', ['ec', '-in', key, '-pubout', '-out', pub]);
    return { key, pub };
  }

  /** A kubeconfig file for `pair` against `server`. */
  kubeconfig(file: string, server: string, pair: CertPair): string {
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', '- name: twill', '  cluster:', `    server: ${server}`, `    certificate-authority: ${this.ca}`,
      'users:', '- name: me', '  user:', `    client-certificate: ${pair.cert}`, `    client-key: ${pair.key}`,
      'contexts:', '- name: twill', '  context: {cluster: twill, user: me}',
      'current-context: twill', '',
    ].join('\n'));
    return file;
  }
}
