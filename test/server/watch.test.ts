import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { Client, Metadata, credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugError, type WatchStream } from '../../src/client/client';
import { ChangeKind, VifPlugService, WatchRequest, type WatchResponse } from '../../src/gen/vifplug/v1/vifplug';
import type { ProviderClass, ProviderContext, ProviderFactory } from '../../src/registry';
import { ReflectionClient } from '../helpers/reflection-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { withTestProviders } from '../helpers/test-providers';

const CTL = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugctl.js');

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A provider whose instance announces view changes when the test says so (as hardware events would). */
function announcingProvider(type: string, contexts: ProviderContext[], runAnswer = false): ProviderClass {
  return {
    type,
    maintainedIfaceOptions: [],
    open: (context) => {
      contexts.push(context!);
      return { run: () => runAnswer, preparePort: () => ({ plug: true, out: { name: 'x', type: '', ifaceOptions: new Map() } }) };
    },
  };
}

/** Reads events from a stream into an array the test can wait on. */
function collect(stream: WatchStream): { events: WatchResponse[]; ended: Promise<unknown>; until(n: number, ms?: number): Promise<WatchResponse[]> } {
  const events: WatchResponse[] = [];
  const waiters: (() => void)[] = [];
  const ended = (async () => {
    try {
      for await (const e of stream) {
        events.push(e);
        for (const w of waiters.splice(0)) w();
      }
      return undefined;
    } catch (err) {
      return err;
    }
  })();
  return {
    events,
    ended,
    async until(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} events: ${JSON.stringify(events)}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 50))]);
      }
      return events;
    },
  };
}

const kinds = (events: WatchResponse[]) => events.map((e) => [ChangeKind[e.kind], e.type]);

describe('Watch', () => {
  it('starts with a RESYNC, then tells registrations, opens, view changes and closes, in order', async () => {
    const contexts: ProviderContext[] = [];
    t = await startTestServer({ builtins: withTestProviders({ hw: () => announcingProvider('hw', contexts, true) }) });
    const w = collect(t.client.watch());
    const [first] = await w.until(1);
    expect(first).toMatchObject({ kind: ChangeKind.CHANGE_KIND_RESYNC, reason: 'start', type: '' });
    expect(first!.bootId).toMatch(/^[\w-]{20,}$/);

    await t.client.register('hw');
    const { instanceId } = await t.client.open('hw');
    contexts[0]!.viewChanged();
    await t.client.run(instanceId);
    await t.client.closeInstance(instanceId);
    contexts[0]!.viewChanged(); // after close: ignored
    await t.client.unregister('hw');
    const events = await w.until(6);
    expect(kinds(events.slice(1))).toEqual([
      ['CHANGE_KIND_PROVIDER_REGISTERED', 'hw'],
      ['CHANGE_KIND_INSTANCE_OPENED', 'hw'],
      ['CHANGE_KIND_VIEW_CHANGED', 'hw'],
      ['CHANGE_KIND_VIEW_CHANGED', 'hw'],
      ['CHANGE_KIND_INSTANCE_CLOSED', 'hw'],
      ['CHANGE_KIND_PROVIDER_UNREGISTERED', 'hw'],
    ]);
    expect(events.slice(2, 6).every((e) => e.instanceId === instanceId)).toBe(true);
    const sequences = events.map((e) => e.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    expect(new Set(sequences.slice(1)).size).toBe(6);
    // A second stream of the same daemon has the same boot id.
    const again = collect(t.client.watch());
    expect((await again.until(1))[0]!.bootId).toBe(first!.bootId);
  });

  it('filters by type; RESYNC always comes', async () => {
    t = await startTestServer({ builtins: withTestProviders({ a: () => announcingProvider('a', []), b: () => announcingProvider('b', []) }) });
    const w = collect(t.client.watch(['b']));
    await w.until(1);
    await t.client.register('a');
    await t.client.register('b');
    await t.client.open('a');
    await t.client.open('b');
    const events = await w.until(3);
    expect(kinds(events)).toEqual([
      ['CHANGE_KIND_RESYNC', ''],
      ['CHANGE_KIND_PROVIDER_REGISTERED', 'b'],
      ['CHANGE_KIND_INSTANCE_OPENED', 'b'],
    ]);
  });

  it('merges what a client that does not read has waiting, and never buffers without bound', async () => {
    const contexts: ProviderContext[] = [];
    const types = Array.from({ length: 600 }, (_, i) => `t${i}`);
    const extra: Record<string, ProviderFactory> = { hw: () => announcingProvider('hw', contexts) };
    for (const type of types) extra[type] = () => announcingProvider(type, []);
    t = await startTestServer({ builtins: withTestProviders(extra), providers: ['hw'] });
    await t.client.open('hw');

    // A raw client whose stream is paused: grpc-js stops reading once its window is full.
    const raw = new Client(t.target, credentials.createInsecure());
    const call = raw.makeServerStreamRequest(VifPlugService.watch.path, VifPlugService.watch.requestSerialize, VifPlugService.watch.responseDeserialize, WatchRequest.fromPartial({}), new Metadata());
    const received: WatchResponse[] = [];
    call.on('data', (e: WatchResponse) => received.push(e));
    call.on('error', () => undefined);
    await waitFor(() => received.length === 1);
    call.pause();

    // 200,000 view changes of one instance: one event each while the client reads, merged once it does not.
    for (let i = 0; i < 200_000; i++) {
      contexts[0]!.viewChanged();
      if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    const latest = t.registry.changes.sequence;
    call.resume();
    await waitFor(() => received.at(-1)?.sequence === latest);
    expect(received.length).toBeLessThan(20_000);
    expect(received.at(-1)).toMatchObject({ kind: ChangeKind.CHANGE_KIND_VIEW_CHANGED, type: 'hw' });

    // More distinct changes than may wait: replaced by one RESYNC ("overflow").
    call.pause();
    const before = received.length;
    for (const type of types) await t.registry.register(type);
    for (let i = 0; i < 50_000; i++) contexts[0]!.viewChanged();
    const last = t.registry.changes.sequence;
    call.resume();
    await waitFor(() => received.at(-1)?.sequence === last);
    const after = received.slice(before);
    expect(after.some((e) => e.kind === ChangeKind.CHANGE_KIND_RESYNC && e.reason === 'overflow')).toBe(true);
    expect(after.length).toBeLessThan(types.length + 50_000);
    call.cancel();
    raw.close();
  });

  it('serves many watchers, and forgets the ones that go away', async () => {
    t = await startTestServer({ providers: ['dummy'] });
    // The server's own subscribers (the providers' health entries) stay.
    const own = t.registry.changes.subscribers;
    const clients = Array.from({ length: 4 }, () => t!.newClient());
    const streams = Array.from({ length: 200 }, (_, i) => clients[i % 4]!.watch());
    const all = streams.map(collect);
    await Promise.all(all.map((w) => w.until(1)));
    expect(t.server.watches.open).toBe(200);
    await t.client.open('dummy');
    await Promise.all(all.map((w) => w.until(2)));
    for (const s of streams.slice(0, 150)) s.cancel();
    await waitFor(() => t!.server.watches.open === 50 && t!.registry.changes.subscribers === own + 50);

    // A watcher killed with SIGKILL: its connection drops, nothing says goodbye.
    const proc = spawn(process.execPath, [CTL, '--socket', t.socketPath, 'watch'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    await waitFor(() => stdout.includes('resync'));
    expect(t.server.watches.open).toBe(51);
    proc.kill('SIGKILL');
    await waitFor(() => t!.server.watches.open === 50 && t!.registry.changes.subscribers === own + 50);
    for (const s of streams) s.cancel();
    await waitFor(() => t!.server.watches.open === 0 && t!.registry.changes.subscribers === own);
  });

  it('answers a malformed type with INVALID_ARGUMENT, and ends streams with UNAVAILABLE (DRAINING) at shutdown', async () => {
    t = await startTestServer({ providers: ['dummy'] });
    const bad = await collect(t.client.watch(['not a type!'])).ended;
    expect(bad).toBeInstanceOf(VifplugError);
    expect(bad).toMatchObject({ code: Code.INVALID_ARGUMENT, reason: 'INVALID_FIELD' });

    const w = collect(t.client.watch());
    await w.until(1);
    const stopping = t.server.shutdown();
    const err = (await w.ended) as VifplugError;
    expect(err).toBeInstanceOf(VifplugError);
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.reason).toBe('DRAINING');
    await stopping;
  });

  it('is described by reflection as a server stream, so grpcurl can call it', async () => {
    t = await startTestServer({ providers: ['dummy'] });
    const reflection = new ReflectionClient(t.target, 'v1');
    try {
      const files = await reflection.resolve(['vifplug.v1.VifPlug.Watch']);
      const service = files.flatMap((f) => f.service).find((s) => s.name === 'VifPlug')!;
      const method = service.method.find((m) => m.name === 'Watch')!;
      expect(method).toMatchObject({ inputType: '.vifplug.v1.WatchRequest', outputType: '.vifplug.v1.WatchResponse', serverStreaming: true });
      const kinds = files.flatMap((f) => f.enumType).find((e) => e.name === 'ChangeKind')!;
      expect(kinds.value.map((v) => v.name)).toContain('CHANGE_KIND_VIEW_CHANGED');
    } finally {
      reflection.close();
    }
  });

  it('is followed by vifplugctl watch, one line per event', async () => {
    t = await startTestServer({ providers: ['dummy'] });
    const proc = spawn(process.execPath, [CTL, '--socket', t.socketPath, 'watch', 'dummy', '--count', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    await waitFor(() => stdout.includes('resync'));
    const { instanceId } = await t.client.open('dummy');
    await t.client.run(instanceId);
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d+ resync - start boot=\S+$/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(new RegExp(`^\\d+ instance-opened dummy ${instanceId}$`)), expect.stringMatching(/^\d+ view-changed dummy /)]);
  });
});

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
