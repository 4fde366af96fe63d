/**
 * The provider class as the registry drives it: the public entry point,
 * option checking at the edge, ambiguity, remove, init failures, devlink
 * failing in every way it can, the monitors and the periodic resync.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { REPRESENTOR_TYPE, representorProvider } from '../../../src/providers/representor';
import type { ProviderClass, ProviderInstance, Representor } from '../../../src/registry/provider';
import { devlinkJsonFromText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { captureLogger, ctxIn, select, startDaemon, startProvider, type Harness } from './harness';
import { isRunning, PROCESS_WAIT } from '../../helpers/processes';

const PF_MAC = '10:70:fd:df:9c:3a';

let host: FakeHost | undefined;
let harness: Harness | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await harness?.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  host?.remove();
  harness = undefined;
  host = undefined;
});

function cx6(): { host: FakeHost; json: DevlinkJson } {
  host = new FakeHost();
  const json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
  layOutDevlinkHost(host, json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
  return { host, json };
}

describe('representorProvider (the public entry point)', () => {
  it('registers as "representor", maintains the DPDK interface options, and plugs with the daemon-side config', async () => {
    const { host: h } = cx6();
    const { logger } = captureLogger();
    const cls = representorProvider({ sysfsRoot: h.sysfsRoot, devlinkBin: h.devlinkBin, ipBin: h.ipBin, resyncIntervalMs: 0 }, { logger });
    expect(cls.type).toBe(REPRESENTOR_TYPE);
    expect(REPRESENTOR_TYPE).toBe('representor');
    expect(cls.maintainedIfaceOptions).toEqual(['dpdk-devargs', 'dpdk-vf-mac']);
    await cls.init!();
    cleanups.push(() => cls.destroy!());
    const instance = await cls.open();
    const result = await instance.preparePort(ctxIn('create', select(PF_MAC, { vf: 4 })));
    expect(result).toEqual({ plug: true, out: { name: 'enp7s0f0_4', type: '', ifaceOptions: new Map() } });
    await instance.close?.();
  });

  it('fails init, telling the operator about --sysfs-root, when the root is not laid out like /sys', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'vifplug-nosys-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const { logger } = captureLogger();
    const cls = representorProvider({ sysfsRoot: empty, devlinkBin: 'devlink', ipBin: 'ip', resyncIntervalMs: 0 }, { logger });
    await expect(cls.init!()).rejects.toThrow(/class\/net.*--sysfs-root/);
  });

  it('does not fail init when devlink is missing; sysfs serves and says why', async () => {
    const { host: h } = cx6();
    harness = await startProvider(h, { devlinkBin: join(h.dir, 'no-such-devlink') });
    expect(await harness.netdevFor(select(PF_MAC, { vf: 4 }))).toBe('enp7s0f0_4');
    expect((await harness.list()).every((r) => r.source === 'sysfs')).toBe(true);
    expect(harness.logs.some((l) => l.msg.includes('not found; install iproute2 or pass --devlink-bin'))).toBe(true);
  });
});

describe('options are checked before anything touches the host', () => {
  const hostile = ['../../etc/passwd', '$(reboot)', '; rm -rf /', '`id`', '4; reboot', '4\n5', '/sys/class/net/eth0', '.*'];

  it.each(hostile)('refuses %j as a vf-num, a sf-num and a pf-mac without running anything', async (value) => {
    if (harness === undefined) {
      const { host: h } = cx6();
      harness = await startProvider(h);
    }
    const dumps = harness.host.portDumps();
    for (const options of [select(PF_MAC, { vf: value }), select(PF_MAC, { sf: value }), select(value, { vf: 1 })]) {
      const error = await harness.errorFor(options);
      expect([error.status, error.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_OPTION']);
    }
    expect(harness.host.portDumps()).toBe(dumps);
  });

  it('never vetoes a remove, whatever the options', async () => {
    const { host: h } = cx6();
    harness = await startProvider(h);
    expect(await harness.instance.preparePort(ctxIn('remove', { 'vif-plug:representor:vf-num': '3abc' }))).toEqual({ plug: true });
    expect(await harness.instance.preparePort(ctxIn('remove', {}))).toEqual({ plug: true });
  });
});

describe('ambiguity is an error, never a guess', () => {
  it('names both ports when two match the same VF', async () => {
    const { host: h, json } = cx6();
    // A second port claiming vfnum 2 on the same device (e.g. a shared devlink instance).
    json.port['pci/0000:07:00.0/131075'] = { type: 'eth', netdev: 'enp7s0f1_2', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 2, external: false };
    layOutDevlinkHost(h, { port: { 'pci/0000:07:00.0/131075': json.port['pci/0000:07:00.0/131075']! } });
    h.setDevlinkPorts(json);
    harness = await startProvider(h);
    const error = await harness.errorFor(select(PF_MAC, { vf: 2 }));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
    expect(error.message).toContain('enp7s0f0_2');
    expect(error.message).toContain('enp7s0f1_2');
    const listed = (await harness.list()).filter((r) => r.vfnum === 2);
    expect(listed.map((r) => r.lportOptions.size)).toEqual([0, 0]);
    // The others stay selectable.
    expect(await harness.netdevFor(select(PF_MAC, { vf: 3 }))).toBe('enp7s0f0_3');
  });

  it('names both PFs when two uplinks share the MAC (bond / VF-LAG)', async () => {
    host = new FakeHost();
    const json = devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt'));
    layOutDevlinkHost(host, json, { uplinks: { enp8s0f0np0: { address: '40:a6:b7:18:dd:68' }, enp8s0f1np1: { address: '40:a6:b7:18:dd:68' } } });
    harness = await startProvider(host);
    const error = await harness.errorFor(select('40:a6:b7:18:dd:68', { vf: 0 }));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
    expect(error.message).toContain('enp8s0f0np0');
    expect(error.message).toContain('enp8s0f1np1');
  });
});

describe('VF-LAG: a bond over both uplinks of a ConnectX', () => {
  const BOND_MAC = '10:70:fd:df:9c:3a';
  const PF1_PERMANENT = '10:70:fd:df:9c:3b';

  /** Both PFs in switchdev with VF 0 each, bonded: both carry PF0's MAC as their current address. */
  function vfLag(): FakeHost {
    const h = new FakeHost();
    const json = devlinkJsonFromText(
      [
        'pci/0000:07:00.0/65535: type eth netdev enp7s0f0 flavour physical port 0 splittable false',
        'pci/0000:07:00.0/1: type eth netdev enp7s0f0_0 flavour pcivf controller 0 pfnum 0 vfnum 0 external false splittable false',
        'pci/0000:07:00.1/131071: type eth netdev enp7s0f1 flavour physical port 1 splittable false',
        'pci/0000:07:00.1/131073: type eth netdev enp7s0f1_0 flavour pcivf controller 0 pfnum 1 vfnum 0 external false splittable false',
      ].join('\n'),
    );
    layOutDevlinkHost(h, json, {
      uplinks: {
        // The bond's MAC is PF0's own: PF0's permanent MAC equals its current one.
        enp7s0f0: { address: BOND_MAC, permAddress: BOND_MAC },
        enp7s0f1: { address: BOND_MAC, permAddress: PF1_PERMANENT },
      },
    });
    return h;
  }

  it("refuses the bond's MAC as REPRESENTOR_AMBIGUOUS naming both PFs, though it is PF0's permanent MAC", async () => {
    host = vfLag();
    harness = await startProvider(host);
    const error = await harness.errorFor(select(BOND_MAC, { vf: 0 }));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
    expect(error.message).toContain('PF enp7s0f0 on pci/0000:07:00.0');
    expect(error.message).toContain('PF enp7s0f1 on pci/0000:07:00.1');
    expect(error.message).toContain('VF-LAG');
    expect(error.metadata).toMatchObject({ pf_mac: BOND_MAC, vf_num: '0' });
    expect(error.metadata.candidates).toContain('pci/0000:07:00.0/65535');
    expect(error.metadata.candidates).toContain('pci/0000:07:00.1/131071');
  });

  it("selects PF1's VF by PF1's own permanent MAC, and lists PF0's VF as selectable by nothing", async () => {
    host = vfLag();
    harness = await startProvider(host);
    expect(await harness.netdevFor(select(PF1_PERMANENT, { vf: 0 }))).toBe('enp7s0f1_0');
    const listed = new Map((await harness.list()).map((r) => [r.netdev, r]));
    expect(Object.fromEntries(listed.get('enp7s0f1_0')!.lportOptions)).toEqual(select(PF1_PERMANENT, { vf: 0 }));
    expect(listed.get('enp7s0f0_0')!.lportOptions.size).toBe(0);
  });

  it('refuses it through a real daemon too', async () => {
    host = vfLag();
    const daemon = await startDaemon(host);
    cleanups.push(() => daemon.close());
    const error = await daemon.errorFor(select(BOND_MAC, { vf: 0 }));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'REPRESENTOR_AMBIGUOUS']);
    expect(error.message).toContain('enp7s0f1 by 10:70:fd:df:9c:3b');
  });
});

describe('devlink failing', () => {
  it('times out a hung devlink and serves from sysfs', async () => {
    const { host: h } = cx6();
    h.setDevlinkBehaviour('hang');
    harness = await startProvider(h, { devlinkTimeoutMs: 300 });
    expect(await harness.netdevFor(select(PF_MAC, { vf: 1 }))).toBe('enp7s0f0_1');
    expect(harness.logs.some((l) => l.msg.includes('did not finish within 300 ms'))).toBe(true);
  });

  for (const behaviour of ['garbage', 'huge', 'fail', 'hang'] as const) {
    it(`keeps the last good inventory when devlink starts to misbehave (${behaviour})`, async () => {
      host = new FakeHost();
      // A DPU: only devlink knows the host PF's MAC, so falling back to sysfs would lose it.
      const json = devlinkJsonFromText(
        [
          'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
          'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true',
          '  function:',
          '    hw_addr b8:3f:d2:e1:8f:dc',
          'pci/0000:03:00.0/196609: type eth netdev pf0vf0 flavour pcivf controller 1 pfnum 0 vfnum 0 external true',
        ].join('\n'),
      );
      layOutDevlinkHost(host, json, { uplinks: { p0: { address: 'b8:3f:d2:e1:8f:00' } } });
      // The timeout must leave room for the stand-in (a node process) to start on a loaded machine.
      harness = await startProvider(host, { devlinkTimeoutMs: 3000, devlinkMaxOutputBytes: 1024 * 1024 });
      const before = await harness.list();
      host.setDevlinkBehaviour(behaviour);
      expect(await harness.run()).toBe(false);
      expect(await harness.list()).toEqual(before);
      expect(await harness.netdevFor(select('b8:3f:d2:e1:8f:dc', { vf: 0 }))).toBe('pf0vf0');
      expect(harness.logs.filter((l) => l.msg.startsWith('representor refresh failing:') && l.msg.includes('answers come from the inventory read at'))).toHaveLength(1);
      // Within the retry delay devlink is not asked again: the last good view stands.
      const dumps = host.portDumps();
      expect(await harness.run()).toBe(false);
      expect(host.portDumps()).toBe(dumps);
      // It recovers without a restart, once the retry is due; the failure is logged once, and its end.
      host.setDevlinkBehaviour('ok');
      harness.clock.advance(1_000);
      expect(await harness.run()).toBe(false);
      expect(host.portDumps()).toBe(dumps + 1);
      expect(harness.logs.filter((l) => l.msg.startsWith('representor refresh failing:'))).toHaveLength(1);
      expect(harness.logs.filter((l) => l.msg.startsWith('representor refresh works again (1 failed since'))).toHaveLength(1);
    });
  }

  it('keeps the devlink view when devlink says "no devlink" after it has worked (an intermittent failure)', async () => {
    const { host: h } = cx6();
    harness = await startProvider(h);
    const before = await harness.list();
    h.setDevlinkBehaviour('no-netlink');
    expect(await harness.run()).toBe(false);
    expect(await harness.list()).toEqual(before);
    expect((await harness.list()).every((r) => r.source === 'devlink')).toBe(true);
  });

  it('decides "no devlink" at start, asks again only after the recheck interval, and switches once devlink answers', async () => {
    const { host: h } = cx6();
    h.setDevlinkBehaviour('no-netlink');
    harness = await startProvider(h, { devlinkAbsentRecheckMs: 60_000 });
    expect((await harness.list()).every((r) => r.source === 'sysfs')).toBe(true);
    expect(await harness.netdevFor(select(PF_MAC, { vf: 4 }))).toBe('enp7s0f0_4');
    h.setDevlinkBehaviour('ok');
    const dumps = h.portDumps();
    harness.clock.advance(59_000);
    expect(await harness.run()).toBe(false);
    expect(h.portDumps()).toBe(dumps);
    harness.clock.advance(1_000);
    expect(await harness.run()).toBe(true);
    expect((await harness.list()).every((r) => r.source === 'devlink')).toBe(true);
    expect(harness.logs.filter((l) => l.msg.startsWith('devlink unavailable'))).toHaveLength(1);
    expect(harness.logs.some((l) => l.msg.startsWith('devlink answers now'))).toBe(true);
  });
});

describe('event-driven refresh', () => {
  async function liveProvider(h: FakeHost, resyncIntervalMs = 0): Promise<{ cls: ProviderClass; instance: ProviderInstance; lines: ReturnType<typeof captureLogger>['lines'] }> {
    const { logger, lines } = captureLogger();
    const cls = representorProvider({ sysfsRoot: h.sysfsRoot, devlinkBin: h.devlinkBin, ipBin: h.ipBin, resyncIntervalMs }, { logger });
    await cls.init!();
    const instance = await cls.open();
    cleanups.push(async () => {
      await instance.close?.();
      await cls.destroy!();
    });
    return { cls, instance, lines };
  }

  const netdevs = async (cls: ProviderClass): Promise<string[]> => ((await cls.listRepresentors!()) as Representor[]).map((r) => r.netdev);

  it('re-reads when `devlink monitor port` reports a port, without run() or a lookup', async () => {
    const { host: h, json } = cx6();
    const { cls } = await liveProvider(h);
    await vi.waitFor(() => expect(h.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    json.port['pci/0000:07:00.0/6'] = { type: 'eth', netdev: 'enp7s0f0_5', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 5, external: false };
    h.setDevlinkPorts(json);
    expect(await netdevs(cls)).not.toContain('enp7s0f0_5');
    h.emitDevlinkEvent('[port,new] pci/0000:07:00.0/6: type eth netdev enp7s0f0_5 flavour pcivf controller 0 pfnum 0 vfnum 5 external false splittable false');
    await vi.waitFor(async () => expect(await netdevs(cls)).toContain('enp7s0f0_5'), { timeout: 10_000 });
  });

  it('re-reads when `ip -o monitor link` reports a rename', async () => {
    const { host: h } = cx6();
    h.setDevlinkBehaviour('no-netlink');
    const { cls } = await liveProvider(h);
    await vi.waitFor(() => expect(h.monitorPids('ip')).toHaveLength(1), PROCESS_WAIT);
    h.renameNetdev('enp7s0f0_3', 'tap-vm-3');
    h.emitLinkEvent('9: tap-vm-3: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff');
    await vi.waitFor(async () => expect(await netdevs(cls)).toContain('tap-vm-3'), { timeout: 10_000 });
  });

  it('restarts a monitor that dies, and re-reads since events may have been lost', async () => {
    const { host: h, json } = cx6();
    const { cls } = await liveProvider(h);
    await vi.waitFor(() => expect(h.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    json.port['pci/0000:07:00.0/7'] = { type: 'eth', netdev: 'enp7s0f0_6', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 6, external: false };
    h.setDevlinkPorts(json);
    process.kill(h.monitorPids('devlink')[0]!, 'SIGKILL');
    await vi.waitFor(() => expect(h.monitorPids('devlink')).toHaveLength(2), { timeout: 10_000 });
    await vi.waitFor(async () => expect(await netdevs(cls)).toContain('enp7s0f0_6'), { timeout: 10_000 });
  });

  it('gives up on the devlink monitor, logging once, when the kernel has no devlink', async () => {
    const { host: h } = cx6();
    h.setDevlinkBehaviour('no-netlink');
    const { lines } = await liveProvider(h);
    await vi.waitFor(() => expect(lines.some((l) => l.msg.includes('devlink monitor not available (Failed to connect to devlink Netlink)'))).toBe(true), PROCESS_WAIT);
    expect(lines.filter((l) => l.msg.includes('devlink monitor not available'))).toHaveLength(1);
    expect(h.invocations('devlink').filter((a) => a.includes('monitor'))).toHaveLength(1);
  });

  it('stops every child process on destroy', async () => {
    const { host: h } = cx6();
    const { logger } = captureLogger();
    const cls = representorProvider({ sysfsRoot: h.sysfsRoot, devlinkBin: h.devlinkBin, ipBin: h.ipBin, resyncIntervalMs: 50 }, { logger });
    await cls.init!();
    await vi.waitFor(() => expect([...h.monitorPids('devlink'), ...h.monitorPids('ip')]).toHaveLength(2), PROCESS_WAIT);
    await cls.destroy!();
    for (const pid of [...h.monitorPids('devlink'), ...h.monitorPids('ip')]) {
      expect(isRunning(pid)).toBe(false);
    }
    // No resync after destroy.
    const dumps = h.portDumps();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.portDumps()).toBe(dumps);
  });

  it('picks up changes through the periodic resync alone', async () => {
    const { host: h, json } = cx6();
    const { cls } = await liveProvider(h, 50);
    delete json.port['pci/0000:07:00.0/5'];
    h.setDevlinkPorts(json);
    h.removeNetdev('enp7s0f0_4');
    await vi.waitFor(async () => expect(await netdevs(cls)).not.toContain('enp7s0f0_4'), { timeout: 10_000 });
  });
});
