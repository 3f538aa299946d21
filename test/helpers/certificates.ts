import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  /** The CA that signed the server certificate. */
  readonly ca: string;
  /** A CA that signed nothing here: verifying against it fails. */
  readonly otherCa: string;
  /** The server certificate (subjectAltName: DNS:localhost only, so 127.0.0.1 is the "wrong host") and its key. */
  readonly cert: string;
  readonly key: string;
  /** A certificate from the same CA for another host (db.example) and its key. */
  readonly otherHostCert: string;
  readonly otherHostKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=ferry test ${name}`,
  ]);
}

/** A throwaway CA, a server certificate it signed for `localhost`, and an unrelated second CA (openssl). */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-certs-'));
  chmodSync(dir, 0o755);
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeServerCert(dir, 'server', 'localhost');
  makeServerCert(dir, 'other-host', 'db.example');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    otherHostCert: join(dir, 'other-host.pem'),
    otherHostKey: join(dir, 'other-host.key'),
  };
}

/** `name`.pem and `name`.key: a server certificate for `host` (its only subjectAltName), signed by ca.pem. */
function makeServerCert(dir: string, name: string, host: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${host}`]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName = DNS:${host}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  // MariaDB reads the key as the user it runs as; Postgres gets its own 0600 copy (local-databases.ts).
  chmodSync(join(dir, `${name}.key`), 0o644);
}
