/**
 * ListRepresentors and the metrics that count representors: which provider
 * answers when no type is given (the one that announces it lists ports, not
 * one known by name), and the listing going through the registry's gate
 * like every provider call: bounded in time, counted in flight, shed beyond
 * the limit, and never taking a port call's slot, also when a metrics
 * scrape asks.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { Code } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { NO_OPTIONS, type ProviderClass, type Representor } from '../../src/registry';
import { expectStatus } from '../helpers/expect-status';
import { startTestServer, type TestServer } from '../helpers/server';
import { withTestProviders } from '../helpers/test-providers';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function port(netdev: string, flavour: string, vfnum?: number): Representor {
  return { netdev, ifindex: 0, flavour, device: 'pci/0000:07:00.0', pfnum: 0, ...(vfnum === undefined ? {} : { vfnum }), pfMac: '', source: 'devlink', physPortName: '', lportOptions: NO_OPTIONS };
}

/** A hardware provider as the registry sees one: it plugs any port and lists `ports`; `hold` keeps each listing waiting. */
function hardware(type: string, ports: readonly Representor[], control: { listings: number; hold?: Promise<void> } = { listings: 0 }): ProviderClass {
  return {
    type,
    maintainedIfaceOptions: [],
    open: () => ({ preparePort: (ctxIn) => (ctxIn.opType === 'create' ? { plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: NO_OPTIONS } } : { plug: true }) }),
    async listRepresentors() {
      control.listings++;
      await control.hold;
      return ports;
    },
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('ListRepresentors without a type', () => {
  it('asks the one registered provider that lists hardware ports; with several, asks which; with none, says so', async () => {
    const ports = [port('eth_vf0', 'pcivf', 0)];
    t = await startTestServer({
      builtins: withTestProviders({ hw: () => hardware('hw', ports), other: () => hardware('other', []) }),
      providers: ['dummy', 'hw'],
    });
    expect((await t.client.listProviders()).providers.map((p) => p.type)).toEqual(['dummy', 'hw']);
    expect((await t.client.listRepresentors()).representors.map((r) => r.netdev)).toEqual(['eth_vf0']);

    await t.client.call('register', { type: 'other', endpoint: '' });
    const several = await expectStatus(t.client.listRepresentors(), Code.INVALID_ARGUMENT, 'MISSING_FIELD');
    expect(several.detail).toContain('hw, other');
    expect((await t.client.listRepresentors('other')).representors).toEqual([]);

    await t.client.call('unregister', { type: 'hw' });
    await t.client.call('unregister', { type: 'other' });
    await expectStatus(t.client.listRepresentors(), Code.NOT_FOUND, 'PROVIDER_NOT_FOUND');
    await expectStatus(t.client.listRepresentors('dummy'), Code.UNIMPLEMENTED, 'LISTING_UNSUPPORTED');
  });
});

describe('a listing goes through the gate', () => {
  it('is bounded by the provider timeout, counted in flight and shed beyond the limit, on a slot apart from the port calls', async () => {
    let release!: () => void;
    const control = { listings: 0, hold: new Promise<void>((r) => (release = r)) };
    t = await startTestServer({
      builtins: withTestProviders({ hw: () => hardware('hw', [port('p0', 'physical')], control) }),
      providers: ['hw'],
      limits: { providerTimeoutMs: 500, maxCallsPerInstance: 2 },
    });
    const client = t.client;
    const held = [client.listRepresentors('hw').catch((err: unknown) => err), client.listRepresentors('hw').catch((err: unknown) => err)];
    await waitFor(() => t!.registry.stats().inflight === 2);
    await expectStatus(client.listRepresentors('hw'), Code.RESOURCE_EXHAUSTED, 'PROVIDER_BUSY');

    // The instance's own slots are free: listing does not hold up port calls.
    const { instanceId } = await client.open('hw');
    const [a, b] = await Promise.all(['lp1', 'lp2'].map((lportName) => client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName })));
    expect([a!.plug, b!.plug]).toEqual([true, true]);
    await client.destroyCtxs([a!.ctxId, b!.ctxId]);

    for (const outcome of await Promise.all(held)) expect(outcome).toMatchObject({ code: Code.DEADLINE_EXCEEDED, reason: 'PROVIDER_TIMEOUT' });
    expect(t.registry.stats().inflight).toBe(0);
    release();
    expect((await client.listRepresentors('hw')).representors.map((r) => r.netdev)).toEqual(['p0']);
  });
});

describe('metrics scrapes', () => {
  it('share one listing, count every port once, and leave port calls their slots', async () => {
    let release!: () => void;
    const control = { listings: 0, hold: new Promise<void>((r) => (release = r)) };
    const ports = [port('p0', 'physical'), port('vf0', 'pcivf', 0), port('vf1', 'pcivf', 1), port('vf2', 'pcivf', 2)];
    t = await startTestServer({
      builtins: withTestProviders({ hw: () => hardware('hw', ports, control) }),
      providers: ['dummy', 'hw'],
      limits: { maxCallsPerInstance: 1 },
      metrics: true,
    });
    const scrapes = [1, 2, 3].map(() => fetch(t!.metricsUrl!).then((res) => res.text()));
    await waitFor(() => control.listings === 1);

    // While the scrapes wait for the provider, its one port call slot is free.
    const { instanceId } = await t.client.open('hw');
    const answer = await t.client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lp1' });
    expect(answer.plug).toBe(true);
    await t.client.destroyCtx(answer.ctxId);

    release();
    for (const body of await Promise.all(scrapes)) {
      const lines = body.split('\n').filter((l) => l.startsWith('vifplug_representors{'));
      expect(lines.sort()).toEqual(['vifplug_representors{provider="hw",flavour="pcivf"} 3', 'vifplug_representors{provider="hw",flavour="physical"} 1']);
    }
    expect(control.listings).toBe(1);
  });
});
