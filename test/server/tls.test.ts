import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

import { credentials } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Code, ServingStatus, VifplugClient } from '../../src/client/client';
import { makePki, type Pki } from '../helpers/certs';
import { runDaemon, spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

const CTL = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugctl.js');

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let rogue: Pki;
beforeAll(() => {
  dir = tempDir();
  pki = makePki(dir.path, 'good');
  rogue = makePki(dir.path, 'rogue');
});
afterAll(() => dir.remove());

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function daemon(args: string[]): Promise<{ d: Daemon; target: string }> {
  const d = await spawnDaemon(['--providers', 'dummy', '--listen', `unix://${dir.path}/d${cleanups.length}.sock`, ...args]);
  cleanups.push(() => d.stop('SIGKILL'));
  const listen = d.logs.find((l) => l.msg === 'vifplugd serving')!.listen as string[];
  const port = listen.find((l) => !l.startsWith('unix:'))!.split(':').pop();
  return { d, target: `localhost:${port}` };
}

function client(target: string, opts: { ca?: string; cert?: string; key?: string; plaintext?: boolean }): VifplugClient {
  const creds = opts.plaintext
    ? credentials.createInsecure()
    : credentials.createSsl(pki.read(opts.ca ?? pki.caCert), opts.key ? pki.read(opts.key) : null, opts.cert ? pki.read(opts.cert) : null);
  const c = new VifplugClient(target, { credentials: creds, deadlineMs: 3000, maxAttempts: 1 });
  cleanups.push(() => c.close());
  return c;
}

describe('plaintext TCP', () => {
  it('is refused on a non-loopback address, with a message saying why', async () => {
    const run = await runDaemon(['--listen', '0.0.0.0:0', '--providers', 'none']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('would serve plaintext gRPC beyond this host');
    expect(run.stderr).toContain('--insecure-tcp');
  });

  it('is served on a non-loopback address only with --insecure-tcp', async () => {
    const { target } = await daemon(['--listen', '0.0.0.0:0', '--insecure-tcp']);
    const port = target.split(':').pop();
    expect(await client(`127.0.0.1:${port}`, { plaintext: true }).health()).toBe(ServingStatus.SERVING);
  });
});

describe('TLS', () => {
  it('serves TLS clients that trust its CA, and not plaintext ones', async () => {
    const { target } = await daemon(['--listen', '0.0.0.0:0', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey]);
    expect(await client(target, {}).health()).toBe(ServingStatus.SERVING);
    await expect(client(target, { plaintext: true }).health()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it('with --tls-client-ca, rejects a client without a certificate or with a foreign one, and serves a CA-signed one', async () => {
    const { target } = await daemon(['--listen', '0.0.0.0:0', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-client-ca', pki.caCert]);
    await expect(client(target, {}).health()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    await expect(client(target, { cert: rogue.clientCert, key: rogue.clientKey }).health()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    const trusted = client(target, { cert: pki.clientCert, key: pki.clientKey });
    expect(await trusted.health()).toBe(ServingStatus.SERVING);
    expect((await trusted.open('dummy')).instanceId).not.toBe('');

    // The operator's CLI speaks mutual TLS too, and says so when it is refused.
    const ctl = (...args: string[]) => spawnSync(process.execPath, [CTL, '--addr', target, '--tls-ca', pki.caCert, ...args, 'health'], { encoding: 'utf8' });
    expect(ctl('--tls-cert', pki.clientCert, '--tls-key', pki.clientKey)).toMatchObject({ status: 0, stdout: 'SERVING\n' });
    expect(ctl('--timeout', '2').status).toBe(3);
  });

  it('re-reads its certificate on SIGHUP, and keeps the old one if the new files are bad', async () => {
    const cert = `${dir.path}/live.pem`;
    const key = `${dir.path}/live.key`;
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const { d, target } = await daemon(['--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key]);
    expect(await client(target, { ca: pki.caCert }).health()).toBe(ServingStatus.SERVING);

    copyFileSync(rogue.serverCert, cert); // a renewal: key not yet replaced, so the pair does not match
    d.proc.kill('SIGHUP');
    await waitFor(() => d.logs.some((l) => String(l.msg).startsWith('SIGHUP: keeping the previous TLS files')));
    expect(await client(target, { ca: pki.caCert }).health()).toBe(ServingStatus.SERVING);

    copyFileSync(rogue.serverKey, key);
    d.proc.kill('SIGHUP');
    await waitFor(() => d.logs.some((l) => String(l.msg).startsWith('SIGHUP: TLS files re-read')));
    expect(await client(target, { ca: rogue.caCert }).health()).toBe(ServingStatus.SERVING);
    await expect(client(target, { ca: pki.caCert }).health()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it('refuses unusable TLS flags', async () => {
    expect((await runDaemon(['--listen', '127.0.0.1:0', '--tls-cert', pki.serverCert])).stderr).toContain('--tls-cert and --tls-key go together');
    expect((await runDaemon(['--tls-client-ca', pki.caCert])).stderr).toContain('mutual TLS is TLS first');
    const mismatched = await runDaemon(['--listen', '127.0.0.1:0', '--tls-cert', pki.serverCert, '--tls-key', rogue.serverKey]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stdout).toContain('unusable TLS material');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
