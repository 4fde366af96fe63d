/**
 * A caller that is gone leaves no ctx: clients cancel, or let their deadline
 * pass, right after sending PreparePort while the daemon is stopped
 * (SIGSTOP); once resumed, the daemon reads those requests and answers them
 * into reset streams. Every ctx it prepared for them must be released at
 * once, not left to --ctx-ttl (here an hour) counting against --max-ctx.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { VifplugClient } from '../../src/client/client';
import { OpType, VifPlugService, type PreparePortRequest } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { freePort } from '../helpers/ovsdb-server';

let dir: string | undefined;
let daemon: Daemon | undefined;
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  if (daemon?.proc.pid !== undefined) daemon.proc.kill('SIGCONT');
  await daemon?.stop('SIGKILL');
  daemon = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function ctxGauge(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vifplug_ctxs '));
  return Number(line?.split(' ')[1]);
}

type RawClient = Client & {
  preparePort(req: PreparePortRequest, options: { deadline: number }, cb: (err: ServiceError | null) => void): { cancel(): void };
};

describe('a caller that is gone leaves no ctx', () => {
  it('releases the ctxs prepared for callers that cancelled or timed out while the daemon was stopped', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifplug-gone-'));
    const metricsPort = await freePort();
    const target = `unix://${dir}/v.sock`;
    daemon = await spawnDaemon(['--listen', target, '--providers', 'dummy', '--metrics-listen', `127.0.0.1:${metricsPort}`, '--ctx-ttl', '3600']);
    const client = new VifplugClient(target, { maxAttempts: 1 });
    clients.push(client);
    const { instanceId } = await client.open('dummy');
    const Raw = makeGenericClientConstructor(VifPlugService, 'VifPlug') as unknown as new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => RawClient;
    const raw = new Raw(target, credentials.createInsecure());
    // The service's own Close method hides Client.close: close the channel instead.
    clients.push({ close: () => raw.getChannel().close() });
    const request = (lport: string): PreparePortRequest => ({
      instanceId,
      opType: OpType.OP_TYPE_CREATE,
      useDpdk: false,
      lportName: lport,
      lportOptions: new Map(),
      ifaceName: '',
      ifaceType: '',
      ifaceOptions: new Map(),
    });
    // The connection is up before the daemon stops.
    await new Promise<void>((resolve, reject) => raw.preparePort(request('warm-up'), { deadline: Date.now() + 5_000 }, (err) => (err ? reject(err) : resolve())));
    expect(await ctxGauge(metricsPort)).toBe(1);

    daemon.proc.kill('SIGSTOP');
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 12; i++) {
      outcomes.push(
        new Promise((resolve) => {
          // Half cancel right after sending, half let a short deadline pass.
          const call = raw.preparePort(request(`gone-${i}`), { deadline: Date.now() + (i % 2 === 0 ? 60_000 : 300) }, (err) => resolve(err ? String(err.code) : 'OK'));
          if (i % 2 === 0) setTimeout(() => call.cancel(), 100);
        }),
      );
    }
    // Every caller has given up before the daemon reads a byte.
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set(['1', '4']));
    // A call ends for its caller before its RST_STREAM is on the wire: the
    // HTTP/2 session writes it on the event loop's next turn. Resumed before
    // that, the daemon could read a request without its reset, and rightly
    // count the answer as delivered. Let the resets reach the socket first.
    for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
    daemon.proc.kill('SIGCONT');

    // A call sent after the resume is read after the cancelled ones: once it is answered, they were read too.
    const after = await client.preparePort(request('after'));
    expect(after.plug).toBe(true);
    await vi.waitFor(async () => expect(await ctxGauge(metricsPort)).toBe(2), { timeout: 5_000 });
    // And it stays so: nothing prepared for the callers that left comes back later.
    await new Promise((r) => setTimeout(r, 300));
    expect(await ctxGauge(metricsPort)).toBe(2);
  });
});
