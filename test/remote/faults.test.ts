import { join } from 'node:path';

import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { Code, ServingStatus, VifplugClient } from '../../src/client/client';
import { GetInfoResponse, PreparePortResponse, ProviderService } from '../../src/gen/vifplug/provider/v1/provider';
import { OpType, PreparePortRequest, ProviderHealth, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { expectStatus } from '../helpers/expect-status';
import { spawnProvider, type ProviderProcess, type ScriptedProvider } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';

// Remote providers misbehaving, against the real vifplugd: each fault must
// fail only that provider's calls, with a status that says what happened,
// and heal without help once the provider is back.

let dir: ReturnType<typeof tempDir>;
let daemon: Daemon | undefined;
const providers: ProviderProcess[] = [];
const clients: VifplugClient[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of providers.splice(0)) await p.stop();
  for (const s of servers.splice(0)) s.forceShutdown();
  await daemon?.stop('SIGKILL');
  daemon = undefined;
  dir?.remove();
});

const socket = (name: string) => join(dir.path, `${name}.sock`);

async function startDaemon(flags: string[] = []): Promise<VifplugClient> {
  dir ??= tempDir('vifplug-f-');
  daemon = await spawnDaemon(['--listen', `unix://${socket('vifplugd')}`, '--providers', 'dummy', '--provider-probe-interval', '0.2', ...flags]);
  return client();
}

/** A client that does not retry, so that every test sees the first answer. */
function client(deadlineMs = 5000): VifplugClient {
  const c = new VifplugClient(`unix://${socket('vifplugd')}`, { maxAttempts: 1, deadlineMs });
  clients.push(c);
  return c;
}

async function provider(cfg: Omit<ScriptedProvider, 'socket' | 'register'> & { register?: boolean }): Promise<ProviderProcess> {
  const p = await spawnProvider({ ...cfg, socket: socket(cfg.type), register: cfg.register === false ? undefined : `unix://${socket('vifplugd')}` });
  providers.push(p);
  if (cfg.register !== false) await p.waitFor('registered');
  return p;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const healthOf = async (c: VifplugClient, type: string) => (await c.listProviders()).providers.find((p) => p.type === type);
const create = (instanceId: string, lportName: string) => ({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });

describe('a remote provider', () => {
  it('killed mid-call: that call is UNAVAILABLE PROVIDER_UNAVAILABLE with a RetryInfo, the provider shows down, others go on; restarted, it re-registers and its instance works again', async () => {
    const c = await startDaemon();
    const first = await provider({ type: 'vendor', prepareDelayMs: 60_000 });
    const { instanceId } = await c.open('vendor');
    const dummy = (await c.open('dummy')).instanceId;
    const pending = c.preparePort(create(instanceId, 'lsp1'));
    await first.waitFor('prepare lsp1');
    await first.stop('SIGKILL');
    const err = await expectStatus(pending, Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect(err.status?.retryInfo?.retryDelay).toBeDefined();
    expect(await healthOf(c, 'vendor')).toMatchObject({ health: ProviderHealth.PROVIDER_HEALTH_DOWN, healthReason: 'PROVIDER_UNREACHABLE', open: true });
    await expectStatus(c.preparePort(create(instanceId, 'lsp2')), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect((await c.preparePort(create(dummy, 'lsp3'))).plug).toBe(true);
    expect(await c.health()).toBe(ServingStatus.SERVING);

    const second = await provider({ type: 'vendor' });
    await until('vendor serving', async () => ((await healthOf(c, 'vendor'))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
    const port = await c.preparePort(create(instanceId, 'lsp4'));
    expect(port).toMatchObject({ plug: true, name: 'lsp4' });
    await c.finishPorts([port.ctxId], true);
    // The new process was told about the instance it must serve, and got the handle back.
    expect(second.lines).toEqual(expect.arrayContaining(['init', `open ${instanceId}`, 'prepare lsp4', 'finish lsp4 h:lsp4', 'destroyCtx lsp4 h:lsp4']));
  });

  it('that hangs past --provider-timeout: DEADLINE_EXCEEDED PROVIDER_TIMEOUT, and the provider sees its call cancelled', async () => {
    const c = await startDaemon(['--provider-timeout', '0.3']);
    const p = await provider({ type: 'slow', prepareDelayMs: 30_000, honourCancel: true });
    const { instanceId } = await c.open('slow');
    await expectStatus(c.preparePort(create(instanceId, 'lsp1')), Code.DEADLINE_EXCEEDED, 'PROVIDER_TIMEOUT');
    await p.waitFor('cancelled lsp1');
    expect((await healthOf(c, 'slow'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
    expect(await c.health()).toBe(ServingStatus.SERVING);
  });

  it('gets the controller\'s own shorter deadline, and its cancellation', async () => {
    const c = await startDaemon();
    const p = await provider({ type: 'slow', prepareDelayMs: 30_000, honourCancel: true });
    const { instanceId } = await c.open('slow');
    const short = client(300);
    await expect(short.preparePort(create(instanceId, 'lsp1'))).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    await p.waitFor('cancelled lsp1');
    // A controller that cancels its call cancels the provider's.
    const def = VifPlugService.preparePort;
    const call = c.grpc.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, PreparePortRequest.fromPartial(create(instanceId, 'lsp2')), () => undefined);
    await p.waitFor('prepare lsp2');
    call.cancel();
    await p.waitFor('cancelled lsp2');
  });

  it('that is slow does not hold up another that is fast (no head-of-line blocking)', async () => {
    const c = await startDaemon();
    await provider({ type: 'slow', prepareDelayMs: 1500 });
    await provider({ type: 'fast' });
    const slow = (await c.open('slow')).instanceId;
    const fast = (await c.open('fast')).instanceId;
    const done: string[] = [];
    const calls = [
      ...Array.from({ length: 10 }, (_, i) => c.preparePort(create(slow, `s${i}`)).then(() => done.push('slow'))),
      ...Array.from({ length: 40 }, (_, i) => c.preparePort(create(fast, `f${i}`)).then(() => done.push('fast'))),
    ];
    await Promise.all(calls);
    expect(done).toEqual([...Array(40).fill('fast'), ...Array(10).fill('slow')]);
  });

  it('restarted serving another type: down with PROVIDER_TYPE_MISMATCH until the right one is back', async () => {
    const c = await startDaemon();
    const right = await provider({ type: 'vendor' });
    const { instanceId } = await c.open('vendor');
    await right.stop('SIGTERM');
    providers.push(await spawnProvider({ type: 'vendor', servedType: 'impostor', socket: socket('vendor') }));
    const down = await until('type mismatch', async () => {
      const info = await healthOf(c, 'vendor');
      return info?.healthReason === 'PROVIDER_TYPE_MISMATCH' ? info : undefined;
    });
    expect(down.health).toBe(ProviderHealth.PROVIDER_HEALTH_DOWN);
    const err = await expectStatus(c.preparePort(create(instanceId, 'lsp1')), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect(err.metadata.get('cause')).toBe('PROVIDER_TYPE_MISMATCH');
    await providers.pop()!.stop('SIGTERM');
    await provider({ type: 'vendor', register: false });
    await until('vendor back', async () => ((await healthOf(c, 'vendor'))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
    expect((await c.preparePort(create(instanceId, 'lsp2'))).plug).toBe(true);
  });

  it('that answers malformed messages (INTERNAL PROVIDER_ERROR), or answers that break the answer rules (INTERNAL PROVIDER_ANSWER_INVALID), for that call only', async () => {
    const c = await startDaemon();
    const answers: Record<string, Buffer> = {
      garbage: Buffer.from([0xff, 0xff, 0xff, 0xff]),
      nameless: Buffer.from(PreparePortResponse.encode({ plug: true, handle: Buffer.alloc(0), declineReason: '', declineMessage: '' }).finish()),
      hugeHandle: Buffer.from(PreparePortResponse.encode({ plug: true, ctxOut: { name: 'x', type: '', ifaceOptions: new Map() }, handle: Buffer.alloc(5000), declineReason: '', declineMessage: '' }).finish()),
      silentDecline: Buffer.from(PreparePortResponse.encode({ plug: false, handle: Buffer.alloc(0), declineReason: 'no', declineMessage: '' }).finish()),
    };
    const server = new Server();
    servers.push(server);
    server.addService(
      { getInfo: ProviderService.getInfo, preparePort: { ...ProviderService.preparePort, responseSerialize: (b: Buffer) => b } },
      {
        getInfo: (_call: unknown, cb: (e: null, r: GetInfoResponse) => void) =>
          cb(null, { type: 'broken', apiVersions: ['v1'], maintainedIfaceOptions: [], providerVersion: '' }),
        preparePort: (call: { request: { ctxIn?: { lportName: string } } }, cb: (e: null, r: Buffer) => void) => cb(null, answers[call.request.ctxIn!.lportName]!),
      },
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket('broken')}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
    await c.call('register', { type: 'broken', endpoint: `unix://${socket('broken')}` });
    const { instanceId } = await c.open('broken');
    for (const [lport, reason, words] of [
      ['garbage', 'PROVIDER_ERROR', 'not a valid message'],
      ['nameless', 'PROVIDER_ANSWER_INVALID', 'ctx_out.name is empty'],
      ['hugeHandle', 'PROVIDER_ANSWER_INVALID', 'handle is 5000 bytes'],
      ['silentDecline', 'PROVIDER_ANSWER_INVALID', 'decline_reason "no" is not an UPPER_SNAKE reason'],
    ] as const) {
      const err = await expectStatus(c.preparePort(create(instanceId, lport)), Code.INTERNAL, reason);
      expect(err.message).toContain(words);
    }
    expect((await healthOf(c, 'broken'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
    expect((await c.preparePort(create((await c.open('dummy')).instanceId, 'fine'))).plug).toBe(true);
  });
});

describe('a remote provider that stops answering, or is down', () => {
  it('stopped (SIGSTOP) is shown down within about two probe intervals, not at the call timeout; its calls then fail at once; continued (SIGCONT), it serves again', async () => {
    // --provider-timeout stays 10 s: the probe's own deadline is the interval.
    const c = await startDaemon(['--provider-probe-interval', '1']);
    const p = await provider({ type: 'vendor' });
    const { instanceId } = await c.open('vendor');
    expect((await c.preparePort(create(instanceId, 'lsp1'))).plug).toBe(true);
    const stoppedAt = Date.now();
    p.proc.kill('SIGSTOP');
    try {
      const down = await until('vendor down', async () => {
        const info = await healthOf(c, 'vendor');
        return info?.health === ProviderHealth.PROVIDER_HEALTH_DOWN ? info : undefined;
      }, 9000);
      // Two intervals, plus room for a loaded machine: well under the 10 s the probe used to wait.
      expect(Date.now() - stoppedAt).toBeLessThan(5000);
      expect(down).toMatchObject({ healthReason: 'PROVIDER_UNREACHABLE' });
      expect(down.healthMessage).toContain('did not answer within 1000 ms');
      const failed = Date.now();
      await expectStatus(c.preparePort(create(instanceId, 'lsp2')), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
      expect(Date.now() - failed).toBeLessThan(1000);
    } finally {
      p.proc.kill('SIGCONT');
    }
    await until('vendor serving', async () => ((await healthOf(c, 'vendor'))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined), 15_000);
    expect((await c.preparePort(create(instanceId, 'lsp3'))).plug).toBe(true);
  });

  it('DestroyCtx while it is down: UNAVAILABLE and the ctx kept; once it is back, the retry reaches it with the handle, once', async () => {
    const c = await startDaemon();
    const first = await provider({ type: 'vendor' });
    const { instanceId } = await c.open('vendor');
    const port = await c.preparePort(create(instanceId, 'lsp1'));
    await first.stop('SIGKILL');
    await until('vendor down', async () => ((await healthOf(c, 'vendor'))?.health === ProviderHealth.PROVIDER_HEALTH_DOWN ? true : undefined));
    const err = await expectStatus(c.destroyCtx(port.ctxId), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    expect(err.status?.retryInfo?.retryDelay).toBeDefined();
    await expectStatus(c.finishPort(port.ctxId), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');
    await expectStatus(c.destroyCtx(port.ctxId), Code.UNAVAILABLE, 'PROVIDER_UNAVAILABLE');

    const second = await provider({ type: 'vendor' });
    await until('vendor serving', async () => ((await healthOf(c, 'vendor'))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
    await c.destroyCtx(port.ctxId);
    await second.waitFor('destroyCtx lsp1 h:lsp1');
    // Released: the ctx is gone, and DestroyCtx is idempotent without telling the provider again.
    await c.destroyCtx(port.ctxId);
    await expectStatus(c.finishPort(port.ctxId), Code.NOT_FOUND, 'CTX_NOT_FOUND');
    expect(second.lines.filter((l) => l.startsWith('destroyCtx'))).toEqual(['destroyCtx lsp1 h:lsp1']);
  });
});

describe('registration converges', () => {
  it('Register racing Unregister: every answer is OK or documented, and the end state is whole', async () => {
    const c = await startDaemon();
    const p = await provider({ type: 'vendor', register: false });
    const endpoint = `unix://${socket('vendor')}`;
    let unregistered = 0;
    for (let round = 0; round < 15; round++) {
      const [reg, unreg] = await Promise.allSettled([c.call('register', { type: 'vendor', endpoint }), c.unregister('vendor')]);
      expect(reg.status).toBe('fulfilled');
      if (unreg.status === 'fulfilled') unregistered++;
      else expect(unreg.reason).toMatchObject({ code: Code.NOT_FOUND, reason: 'PROVIDER_NOT_FOUND' });
      const listed = await healthOf(c, 'vendor');
      if (listed === undefined) {
        await expectStatus(c.open('vendor'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
      } else {
        expect(listed.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
        const { instanceId } = await c.open('vendor');
        await c.finishPorts([(await c.preparePort(create(instanceId, `r${round}`))).ctxId], true);
        await c.closeInstance(instanceId);
      }
    }
    expect(unregistered).toBeGreaterThan(0);
    expect(p.lines.filter((l) => l === 'destroy')).toHaveLength(unregistered);
  });

  it('vifplugd restarted: a provider that called Register once (and does not keep registering, as the SDK does) is gone until it registers again', async () => {
    const c = await startDaemon();
    await provider({ type: 'once', register: false });
    await c.call('register', { type: 'once', endpoint: `unix://${socket('once')}` });
    expect((await healthOf(c, 'once'))?.health).toBe(ProviderHealth.PROVIDER_HEALTH_SERVING);
    await daemon!.stop('SIGKILL');
    c.close();
    const again = await startDaemon();
    expect(await healthOf(again, 'once')).toBeUndefined();
    await expectStatus(again.open('once'), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    await again.call('register', { type: 'once', endpoint: `unix://${socket('once')}` });
    const { instanceId } = await again.open('once');
    expect((await again.preparePort(create(instanceId, 'lsp1'))).plug).toBe(true);
  });

  it('vifplugd restarted while providers run: they come back without help, self-registered and discovered alike', async () => {
    dir = tempDir('vifplug-f-');
    const providerDir = join(dir.path, 'providers');
    const flags = ['--provider-dir', providerDir];
    let c = await startDaemon(flags);
    const self = await provider({ type: 'selfreg' });
    const found = await spawnProvider({ type: 'found', socket: join(providerDir, 'found.sock') });
    providers.push(found);
    await until('found registered', async () => ((await healthOf(c, 'found'))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
    await daemon!.stop('SIGKILL');
    c.close();
    c = await startDaemon(flags);
    for (const type of ['selfreg', 'found']) {
      await until(`${type} back`, async () => ((await healthOf(c, type))?.health === ProviderHealth.PROVIDER_HEALTH_SERVING ? true : undefined));
      const { instanceId } = await c.open(type);
      const port = await c.preparePort(create(instanceId, `after-${type}`));
      expect(port.plug).toBe(true);
      await c.finishPorts([port.ctxId], true);
    }
    expect(self.lines.filter((l) => l === 'registered')).toHaveLength(2);
  });
});
