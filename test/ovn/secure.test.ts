/**
 * The agent's connections as a production chassis has them: the Southbound
 * DB over SSL with OVS's --private-key/--certificate/--ca-cert, vifplugd
 * over TCP with mutual TLS and vifplugctl's --tls-* flags, and a clustered
 * Southbound DB whose member in use is killed. Real OVN and OVS daemons, a
 * real PKI.
 */

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makePki, type Pki } from '../helpers/certs';
import { World } from './harness';

describe('the Southbound DB over SSL, vifplugd over TLS', () => {
  let w: World;
  let pki: Pki;
  let dir: string;
  /** The agent's --ca-cert: at first a CA that did not sign the server's certificate. */
  let caFile: string;
  beforeAll(async () => {
    dir = mkdtempSync('/tmp/pki-');
    pki = makePki(dir, 'ovn');
    caFile = join(dir, 'agent-ca.pem');
    copyFileSync(makePki(dir, 'other').caCert, caFile);
    w = await World.start({
      sandbox: { sbSsl: pki },
      vifplugdTls: pki,
      agentArgs: (world) => ['--ovn-sb-db', world.sandbox.sbSsl!, '--private-key', pki.clientKey, '--certificate', pki.clientCert, '--ca-cert', caFile],
    });
  });
  afterAll(async () => {
    await w?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a Southbound DB whose certificate --ca-cert did not sign, says why, and connects once the file is fixed', async () => {
    const why = "the server's certificate is not signed by the CA in --ca-cert";
    const refused = await w.waitStatus((s) => s.waiting.some((c) => c.reason === 'SB_UNREACHABLE' && c.message.includes(why)), 'SB_UNREACHABLE naming the CA');
    expect(refused).toMatchObject({ chassis: 'hv1', complete: false, connected: { ovs: true, sb: false } });
    expect(w.agent!.logs.some((l) => String(l.reason).includes(why))).toBe(true);
    expect(await w.statusText()).toMatch(/^waiting: SB_UNREACHABLE: the Southbound DB \(ssl:127\.0\.0\.1:\d+\) is not connected: .*not signed by the CA in --ca-cert/m);
    // The files are read at each connection attempt: fixing the file is enough.
    copyFileSync(pki.caCert, caFile);
    await w.waitStatus((s) => s.complete && s.remotes.sb === w.sandbox.sbSsl, 'the agent to read the Southbound DB over SSL', 20_000);
  });

  it('plugs through vifplugd reached over TCP with mutual TLS', async () => {
    await w.lspAdd('d1', 'dummy');
    await w.waitPlugged(['d1']);
    await w.sandbox.waitLportUp('d1');
    expect((await w.status()).waiting).toEqual([]);
  });
});

describe('a clustered Southbound DB (ovn-remote lists its members)', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ sandbox: { sbClusterSize: 3 } });
  });
  afterAll(() => w?.stop());

  it('keeps plugging and unplugging after the member it reads is killed (kill -9)', async () => {
    await w.lspAdd('c1', 'dummy');
    await w.waitPlugged(['c1']);
    await w.sandbox.waitLportUp('c1');
    const used = (await w.status()).remotes.sb;
    const members = w.sandbox.sbDb.split(',');
    expect(members).toContain(used);
    await w.sandbox.kill(w.sandbox.sbMembers[members.indexOf(used)]!);
    await w.waitStatus((s) => s.complete && s.remotes.sb !== '' && s.remotes.sb !== used, 'the agent to read another member', 20_000);
    await w.lspAdd('c2', 'dummy');
    await w.sandbox.nbctl('lsp-del', 'c1');
    await w.waitPlugged(['c2'], 20_000);
    await w.sandbox.waitLportUp('c2', 20_000);
  });
});
