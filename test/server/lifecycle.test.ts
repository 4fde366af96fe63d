import { existsSync, statSync } from 'node:fs';

import { Metadata } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, ServingStatus, VifplugClient } from '../../src/client/client';
import { HealthService } from '../../src/gen/grpc/health/v1/health';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';
import { scriptedProvider, withTestProviders } from '../helpers/test-providers';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A provider whose prepares wait until the test opens the gate. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let waiting = 0;
  const factory = () =>
    scriptedProvider('gated', async (lport) => {
      waiting++;
      await gate;
      return { plug: true, out: { name: lport, type: '', ifaceOptions: new Map() } };
    });
  return { factory, open: () => open(), waiting: () => waiting };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('health', () => {
  it('serves "" and vifplug.v1.VifPlug, and says NOT_FOUND for other names', async () => {
    t = await startTestServer();
    expect(await t.client.health('')).toBe(ServingStatus.SERVING);
    expect(await t.client.health('vifplug.v1.VifPlug')).toBe(ServingStatus.SERVING);
    await expectStatus(t.client.health('nope'), Code.NOT_FOUND, 'SERVICE_UNKNOWN');
  });

  it('lists the statuses and streams changes to watchers until shutdown', async () => {
    t = await startTestServer();
    const list = await new Promise<Map<string, { status: number }>>((resolve, reject) =>
      t!.client.grpc.makeUnaryRequest(HealthService.list.path, HealthService.list.requestSerialize, HealthService.list.responseDeserialize, {}, new Metadata(), {}, (err, res) =>
        err ? reject(err) : resolve(res!.statuses),
      ),
    );
    expect([...list.entries()]).toEqual([
      ['', { status: ServingStatus.SERVING }],
      ['vifplug.v1.VifPlug', { status: ServingStatus.SERVING }],
    ]);

    const seen: number[] = [];
    const watch = t.client.grpc.makeServerStreamRequest(HealthService.watch.path, HealthService.watch.requestSerialize, HealthService.watch.responseDeserialize, { service: '' });
    watch.on('data', (m: { status: number }) => seen.push(m.status));
    const ended = new Promise<void>((resolve) => watch.on('end', resolve));
    watch.on('error', () => undefined);
    await until(() => seen.length === 1);
    await t.server.shutdown();
    await ended;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });
});

describe('graceful shutdown', () => {
  it('lets every call in flight finish, answers them all, then removes the socket', async () => {
    const g = gated();
    t = await startTestServer({ builtins: withTestProviders({ gated: g.factory }), providers: ['gated'], shutdownGraceMs: 10_000 });
    const { instanceId } = await t.client.open('gated');
    const clients = [t.client, t.newClient(), t.newClient()];
    const calls = Array.from({ length: 30 }, (_, i) =>
      clients[i % 3]!.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: `lsp${i}` }),
    );
    await until(() => g.waiting() === 30);

    const stopped = t.server.shutdown();
    expect(t.server.health.status('')).toBe(ServingStatus.NOT_SERVING);
    // New connections are refused while the old ones drain.
    const late = new VifplugClient(t.target, { deadlineMs: 1000 });
    await expect(late.listProviders()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    late.close();

    g.open();
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.name)).toEqual(Array.from({ length: 30 }, (_, i) => `lsp${i}`));
    await stopped;
    expect(existsSync(t.socketPath)).toBe(false);
  });

  it('cancels calls still in flight after the grace period', async () => {
    const g = gated();
    t = await startTestServer({ builtins: withTestProviders({ gated: g.factory }), providers: ['gated'], shutdownGraceMs: 200 });
    const { instanceId } = await t.client.open('gated');
    const outcome = t.client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'stuck' }).catch((err: unknown) => err);
    await until(() => g.waiting() === 1);
    await t.server.shutdown();
    expect(await outcome).toMatchObject({ code: Code.CANCELLED });
    expect(t.logs.some((l) => l.level === 'warn' && String(l.msg).includes('grace period'))).toBe(true);
    g.open();
  });
});

describe('the unix socket', () => {
  it('is created with mode 0660', async () => {
    t = await startTestServer();
    expect(statSync(t.socketPath).mode & 0o777).toBe(0o660);
    expect(statSync(t.socketPath).isSocket()).toBe(true);
  });
});
