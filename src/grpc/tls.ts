/**
 * TLS material for TCP listeners, read from files at start and again on
 * reload (SIGHUP), handed to grpc-js as a certificate provider so that new
 * connections use the newest material. A reload that fails keeps the old:
 * a half-written renewal never takes a listener down.
 */

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

import { experimental, type ServerCredentials } from '@grpc/grpc-js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Where the TLS material of TCP listeners lives. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** With a client CA, clients must present a certificate it signed (mutual TLS). */
  readonly clientCaFile?: string;
}

interface Material {
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
  readonly caCertificate: Buffer | undefined;
}

/**
 * The server's certificate, key and client CA, read from files now and again
 * on reload() (SIGHUP). New connections use the newest material; a reload
 * that fails keeps the previous material, so a half-written renewal never
 * takes the listener down.
 */
export class CertificateFiles implements experimental.CertificateProvider {
  private material: Material;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private readonly files: TlsFiles) {
    this.material = read(files);
  }

  /** Re-reads the files; throws (keeping the old material) if they are unusable. */
  reload(): void {
    this.material = read(this.files);
    for (const listener of this.identityListeners) listener(this.identity());
    for (const listener of this.caListeners) listener(this.ca());
  }

  /** grpc-js server credentials that follow reloads; mutual TLS when a client CA is set. */
  credentials(): ServerCredentials {
    const mutual = this.files.clientCaFile !== undefined;
    // grpc-js 1.14 forwards this function's arguments to a constructor that
    // takes (identity, ca): the identity provider goes first, whatever the
    // declared parameter names say.
    return experimental.createCertificateProviderServerCredentials(this, mutual ? this : null, mutual);
  }

  // Listeners hear the current material on the next tick, as grpc-js's own
  // providers do: grpc-js registers its watcher only after adding listeners.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => this.caListeners.has(listener) && listener(this.ca()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identity()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private identity() {
    return { certificate: this.material.certificate, privateKey: this.material.privateKey };
  }

  private ca() {
    return this.material.caCertificate === undefined ? null : { caCertificate: this.material.caCertificate };
  }
}

function read(files: TlsFiles): Material {
  const load = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const material = {
    certificate: load(files.certFile, 'certificate (--tls-cert)'),
    privateKey: load(files.keyFile, 'key (--tls-key)'),
    caCertificate: files.clientCaFile === undefined ? undefined : load(files.clientCaFile, 'client CA (--tls-client-ca)'),
  };
  try {
    // Catches PEM garbage and a key that does not match the certificate now, not at the first handshake.
    createSecureContext({ cert: material.certificate, key: material.privateKey, ca: material.caCertificate });
  } catch (err) {
    throw new Error(`unusable TLS material (${files.certFile}, ${files.keyFile}): ${(err as Error).message}`);
  }
  return material;
}
