/**
 * Opening the byte stream to one OVSDB remote: unix:, tcp:, or ssl: with
 * the PEM files OVS's flags name, within a time limit and abandoned when the
 * client stops; and socket and TLS errors in words an operator can act on.
 * It must not retry nor choose among remotes (connection-loop.ts does).
 */

import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

import { OvsdbConfigError, OvsdbError } from './errors';
import type { Remote } from './remote';

/**
 * The PEM files of an ssl: remote, named after OVS's --private-key,
 * --certificate and --ca-cert. They are read at every connection attempt, so
 * that a rotated certificate is picked up on the next reconnect.
 */
export interface TlsFiles {
  readonly privateKey: string;
  readonly certificate: string;
  readonly caCert: string;
}

/** A connection attempt failed; the client moves on to the next remote. */
export class ConnectError extends OvsdbError {
  override readonly name = 'ConnectError';
}

/** Throws OvsdbConfigError unless every file an ssl: remote needs is named (OVS refuses SSL without all three). */
export function checkTlsFiles(remotes: readonly Remote[], tls: TlsFiles | undefined): void {
  const ssl = remotes.find((r) => r.kind === 'ssl');
  if (!ssl) return;
  const missing = [
    ['--private-key', tls?.privateKey],
    ['--certificate', tls?.certificate],
    ['--ca-cert', tls?.caCert],
  ]
    .filter(([, file]) => !file)
    .map(([flag]) => flag);
  if (missing.length > 0) {
    throw new OvsdbConfigError(`${ssl.name} needs ${missing.join(', ')}: an ssl: remote needs a private key, its certificate, and the CA certificate that signed the server's`);
  }
}

/**
 * Opens a byte stream to `remote`. An ssl: peer must present a certificate
 * signed by the CA in `tls.caCert`; as in OVS, its host name is not checked
 * (the CA is the trust anchor of an OVS deployment, not DNS).
 */
export async function connectRemote(remote: Remote, tls: TlsFiles | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  let socket: Socket;
  let readyEvent = 'connect';
  switch (remote.kind) {
    case 'unix':
      socket = netConnect({ path: remote.path });
      break;
    case 'tcp':
      socket = netConnect({ host: remote.host, port: remote.port, noDelay: true });
      break;
    case 'ssl': {
      checkTlsFiles([remote], tls);
      let key: Buffer, cert: Buffer, ca: Buffer;
      try {
        [key, cert, ca] = await Promise.all([readFile(tls!.privateKey), readFile(tls!.certificate), readFile(tls!.caCert)]);
      } catch (err) {
        throw new ConnectError(`${remote.name}: cannot read the TLS files (${(err as Error).message})`);
      }
      socket = tlsConnect({
        host: remote.host,
        port: remote.port,
        key,
        cert,
        ca,
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      });
      socket.setNoDelay(true);
      readyEvent = 'secureConnect';
      break;
    }
  }
  return new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => fail(new ConnectError(`${remote.name}: connection attempt timed out after ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: NodeJS.ErrnoException) => fail(new ConnectError(`${remote.name}: connection attempt failed (${describeSocketError(err)})`));
    const onAbort = () => fail(new ConnectError(`${remote.name}: connection attempt abandoned (the client is closing)`));
    const onReady = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      // Until the session takes the socket over, a later error is reported by its 'close'.
      socket.on('error', ignore);
      resolve(socket);
    };
    function fail(err: Error) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off(readyEvent, onReady);
      socket.destroy();
      reject(err);
    }
    socket.once(readyEvent, onReady);
    socket.once('error', onError);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function ignore(): void {}

/** A socket or TLS error in words an operator can act on. */
export function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return `the server rejected our certificate: is --certificate signed by a CA the server trusts? (${err.code})`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return `the server's certificate is not signed by the CA in --ca-cert: ${err.code}`;
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return `the server's certificate is not valid now: ${err.code}`;
    default:
      return err.code ? `${err.code}: ${err.message}` : err.message;
  }
}
