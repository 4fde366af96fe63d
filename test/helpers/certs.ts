import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files of a throwaway PKI, made with the openssl CLI. */
export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  /** A server certificate for localhost / 127.0.0.1, signed by the CA. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate signed by the CA. */
  readonly clientCert: string;
  readonly clientKey: string;
  read(file: string): Buffer;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA and the server and client certificates it signs, under `dir` with file names prefixed by `name`. */
export function makePki(dir: string, name = 'pki'): Pki {
  const f = (suffix: string) => join(dir, `${name}-${suffix}`);
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-keyout', f('ca.key'), '-out', f('ca.pem'));
  const leaf = (who: string, ext: string) => {
    writeFileSync(f(`${who}.ext`), ext);
    openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name} ${who}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    openssl(dir, 'x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${who}.ext`), '-out', f(`${who}.pem`));
  };
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    read: (file) => readFileSync(file),
  };
}
