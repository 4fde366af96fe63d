/**
 * The representor provider's answers for a chassis on the userspace datapath
 * (use_dpdk, br-int datapath_type=netdev): type "dpdk" with the representor
 * netdev as the name, and with --representor-dpdk-devargs the devargs built
 * from the devlink port: on fixtures of a ConnectX-6 host, a BlueField and an
 * ice host, in-process and through a real daemon. Where the driver's DPDK
 * numbering is not known, or DPDK could not tell the port from another, the
 * answer is refused, never guessed.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../../src/client/client';
import { OpType } from '../../../src/gen/vifplug/v1/vifplug';
import { representorProvider } from '../../../src/providers/representor';
import type { PortCtxIn, PrepareResult, ProviderClass } from '../../../src/registry/provider';
import { isPlugError, type PlugError } from '../../../src/registry/errors';
import { expectStatus } from '../../helpers/expect-status';
import { spawnDaemon, type Daemon } from '../../helpers/daemon';
import { devlinkJsonFromText } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { captureLogger, DPU_HOST_PF_MAC, dpuHost, select } from './harness';

const CX6_MAC = '10:70:fd:df:9c:3a';
const CX6_BDF = '0000:07:00.0';

let host: FakeHost | undefined;
let cls: ProviderClass | undefined;
let daemon: Daemon | undefined;
let client: VifplugClient | undefined;

afterEach(async () => {
  client?.close();
  await daemon?.stop('SIGTERM');
  await cls?.destroy?.();
  host?.remove();
  host = cls = daemon = client = undefined;
});

/** Fixture 01x: a ConnectX-6 host in switchdev mode, VFs 0-4, its PF bound to `driver` (null: to none). */
function cx6(driver: string | null = 'mlx5_core'): FakeHost {
  const h = new FakeHost();
  layOutDevlinkHost(h, devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt')), { uplinks: { enp7s0f0: { address: CX6_MAC } } });
  if (driver !== null) h.setPciDriver(CX6_BDF, driver);
  return h;
}

async function provider(h: FakeHost, dpdkDevargs: boolean | undefined) {
  const { logger } = captureLogger();
  cls = representorProvider(
    { sysfsRoot: h.sysfsRoot, devlinkBin: h.devlinkBin, ipBin: h.ipBin, resyncIntervalMs: 0, ...(dpdkDevargs === undefined ? {} : { dpdkDevargs }) },
    { logger, monitors: false },
  );
  await cls.init!();
  const instance = await cls.open();
  // A refusal the index answers without I/O is thrown at once, as the registry sees it.
  return async (options: Record<string, string>, useDpdk = true): Promise<PrepareResult> => instance.preparePort(ctx(options, useDpdk));
}

function ctx(lportOptions: Record<string, string>, useDpdk: boolean): PortCtxIn {
  return { opType: 'create', useDpdk, lportName: 'lp-1', lportOptions: new Map(Object.entries(lportOptions)), ifaceName: '', ifaceType: '', ifaceOptions: new Map() };
}

function out(result: PrepareResult): { name: string; type: string; options: Record<string, string> } {
  if (!result.plug || result.out === undefined) throw new Error(`expected an interface, got ${JSON.stringify(result)}`);
  return { name: result.out.name, type: result.out.type, options: Object.fromEntries(result.out.ifaceOptions) };
}

async function refusal(answer: Promise<PrepareResult>): Promise<PlugError> {
  const outcome = await answer.then(
    (r) => new Error(`expected a refusal, got ${JSON.stringify(r.plug ? r.out : r)}`),
    (err: unknown) => err,
  );
  if (!isPlugError(outcome)) throw outcome;
  return outcome;
}

describe('answers on the userspace datapath (use_dpdk)', () => {
  it('maintains dpdk-devargs and dpdk-vf-mac, so that a replug clears them', () => {
    const { logger } = captureLogger();
    expect(representorProvider({ sysfsRoot: '/sys', devlinkBin: 'devlink', ipBin: 'ip', resyncIntervalMs: 0 }, { logger }).maintainedIfaceOptions).toEqual(['dpdk-devargs', 'dpdk-vf-mac']);
  });

  it('answers type dpdk named after the representor netdev, and nothing else without --representor-dpdk-devargs', async () => {
    host = cx6();
    const prepare = await provider(host, undefined);
    expect(out(await prepare(select(CX6_MAC, { vf: 4 })))).toEqual({ name: 'enp7s0f0_4', type: 'dpdk', options: {} });
    // Told the kernel datapath: a system interface, as before.
    expect(out(await prepare(select(CX6_MAC, { vf: 4 }), false))).toEqual({ name: 'enp7s0f0_4', type: '', options: {} });
  });

  it('ConnectX host (mlx5_core): <PF PCI address>,representor=pf0vfN, no controller prefix for the local controller', async () => {
    host = cx6();
    const prepare = await provider(host, true);
    expect(out(await prepare(select(CX6_MAC, { vf: 4 })))).toEqual({ name: 'enp7s0f0_4', type: 'dpdk', options: { 'dpdk-devargs': '0000:07:00.0,representor=pf0vf4' } });
    expect(out(await prepare(select(CX6_MAC, { vf: 0 }))).options['dpdk-devargs']).toBe('0000:07:00.0,representor=pf0vf0');
    // The devargs are for DPDK only: the kernel datapath gets none.
    expect(out(await prepare(select(CX6_MAC, { vf: 4 }), false)).options).toEqual({});
  });

  it("BlueField (mlx5_core): a host VF is c1pf0vfN on the ECPF, the kernel's controller number for the first host", async () => {
    const dpu = dpuHost();
    host = dpu.host;
    host.setPciDriver('0000:03:00.0', 'mlx5_core');
    const prepare = await provider(host, true);
    expect(out(await prepare(select(DPU_HOST_PF_MAC, { vf: 1 })))).toEqual({ name: 'pf0vf1', type: 'dpdk', options: { 'dpdk-devargs': '0000:03:00.0,representor=c1pf0vf1' } });
  });

  it('BlueField: a host SF is c1pf0sfN; the host PF representor is refused (DPDK releases name it differently)', async () => {
    host = new FakeHost();
    const json = devlinkJsonFromText(
      [
        'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
        'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true',
        '  function:',
        `    hw_addr ${DPU_HOST_PF_MAC}`,
        'pci/0000:03:00.0/229376: type eth netdev en3f0c1pf0sf77 flavour pcisf controller 1 pfnum 0 sfnum 77 external true',
      ].join('\n'),
    );
    layOutDevlinkHost(host, json, { uplinks: { p0: { address: 'b8:3f:d2:e1:8f:00' } } });
    host.setPciDriver('0000:03:00.0', 'mlx5_core');
    const prepare = await provider(host, true);
    expect(out(await prepare(select(DPU_HOST_PF_MAC, { sf: 77 }))).options).toEqual({ 'dpdk-devargs': '0000:03:00.0,representor=c1pf0sf77' });
    const error = await refusal(prepare(select(DPU_HOST_PF_MAC)));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'DPDK_DEVARGS_UNKNOWN']);
    expect(error.message).toContain('no dpdk-devargs for pf0hpf (pci/0000:03:00.0/196608)');
    expect(error.message).toContain('65535');
    expect(error.message).toContain('OVS-DOCA opens type=dpdk ports by their netdev name');
  });

  it("refuses where DPDK's mlx5 driver could not tell two ports apart: a DPU's own VF 0 and its host's VF 0", async () => {
    const dpu = dpuHost();
    host = dpu.host;
    dpu.json.port['pci/0000:03:00.0/1'] = { type: 'eth', netdev: 'pf0vf0l', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 0, external: false, splittable: false };
    layOutDevlinkHost(host, { port: { 'pci/0000:03:00.0/1': dpu.json.port['pci/0000:03:00.0/1']! } });
    host.setDevlinkPorts(dpu.json);
    host.setPciDriver('0000:03:00.0', 'mlx5_core');
    const prepare = await provider(host, true);
    const error = await refusal(prepare(select(DPU_HOST_PF_MAC, { vf: 0 })));
    expect(error.reason).toBe('DPDK_DEVARGS_UNKNOWN');
    expect(error.message).toContain("DPDK's mlx5 driver matches representors by PF and VF number alone");
    expect(error.message).toContain('pf0vf0l (pci/0000:03:00.0/1)');
    expect(error.metadata).toMatchObject({ driver: 'mlx5_core', candidates: 'pf0vf0,pf0vf0l' });
    // VF 1 has no twin: answered.
    expect(out(await prepare(select(DPU_HOST_PF_MAC, { vf: 1 }))).options['dpdk-devargs']).toBe('0000:03:00.0,representor=c1pf0vf1');
  });

  it("refuses a driver whose DPDK numbering is not known (ice: DPDK reaches its representors through a DCF VF)", async () => {
    host = new FakeHost();
    layOutDevlinkHost(host, devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt')), { uplinks: { enp8s0f0np0: { address: '40:a6:b7:18:dd:68' } } });
    host.setPciDriver('0000:08:00.0', 'ice');
    const prepare = await refusalFrom(host);
    const error = await refusal(prepare(select('40:a6:b7:18:dd:68', { vf: 2 })));
    expect([error.status, error.reason]).toEqual(['FAILED_PRECONDITION', 'DPDK_DEVARGS_UNKNOWN']);
    expect(error.message).toContain("the DPDK numbering of driver ice's representors is not known to vifplug");
    expect(error.message).toContain('DCF');
    expect(error.message).toContain('known: mlx5_core');
    expect(error.metadata).toMatchObject({ netdev: 'enp8s0f0npf0vf2', device: 'pci/0000:08:00.0', driver: 'ice' });
  });

  it('refuses without a driver link, for a non-PCI devlink device (netdevsim), and for a port seen in sysfs only', async () => {
    host = cx6(null);
    let error = await refusal((await refusalFrom(host))(select(CX6_MAC, { vf: 1 })));
    expect(error.message).toContain('no driver is bound to PCI device 0000:07:00.0');
    await cls?.destroy?.();
    host.remove();

    host = new FakeHost();
    layOutDevlinkHost(host, devlinkJsonFromText(readFixture('15b-netdevsim-devlink-port-after-fix.txt')), { uplinks: { eni10np0: { address: '0e:11:22:33:44:55' } } });
    error = await refusal((await refusalFrom(host))(select('0e:11:22:33:44:55', { vf: 1 })));
    expect(error.message).toContain('its devlink device netdevsim/netdevsim10 is not a PCI device');
    await cls?.destroy?.();
    host.remove();

    host = cx6();
    host.setDevlinkBehaviour('no-netlink');
    error = await refusal((await refusalFrom(host))(select(CX6_MAC, { vf: 1 })));
    expect(error.message).toContain('seen in sysfs only');
  });
});

/** A provider with --representor-dpdk-devargs on `h`. */
function refusalFrom(h: FakeHost) {
  return provider(h, true);
}

describe('through a real daemon (gRPC)', () => {
  async function serve(extra: string[]): Promise<string> {
    host = cx6();
    const socket = `${host.dir}/v.sock`;
    daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'representor', '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0', ...extra]);
    client = new VifplugClient(`unix://${socket}`, { maxAttempts: 1 });
    const opened = await client.open('representor');
    expect(opened.maintainedIfaceOptions).toEqual(['dpdk-devargs', 'dpdk-vf-mac']);
    return opened.instanceId;
  }

  const prepare = (instanceId: string, options: Record<string, string>, useDpdk: boolean) =>
    client!.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, useDpdk, lportName: 'lsp1', lportOptions: new Map(Object.entries(options)) });

  it('--representor-dpdk-devargs: PreparePort with use_dpdk answers type dpdk and the devargs; without use_dpdk a system interface', async () => {
    const id = await serve(['--representor-dpdk-devargs']);
    const dpdk = await prepare(id, select(CX6_MAC, { vf: 3 }), true);
    expect(dpdk).toMatchObject({ plug: true, name: 'enp7s0f0_3', type: 'dpdk' });
    expect(Object.fromEntries(dpdk.ifaceOptions)).toEqual({ 'dpdk-devargs': '0000:07:00.0,representor=pf0vf3' });
    const system = await prepare(id, select(CX6_MAC, { vf: 3 }), false);
    expect(system).toMatchObject({ plug: true, name: 'enp7s0f0_3', type: '' });
    expect(system.ifaceOptions.size).toBe(0);
  });

  it('refuses with FAILED_PRECONDITION / DPDK_DEVARGS_UNKNOWN over gRPC when the driver is not known', async () => {
    const id = await serve(['--representor-dpdk-devargs']);
    host!.setPciDriver(CX6_BDF, 'bnxt_en');
    expect((await client!.run(id)).changed).toBe(false);
    const status = await expectStatus(prepare(id, select(CX6_MAC, { vf: 3 }), true), Code.FAILED_PRECONDITION, 'DPDK_DEVARGS_UNKNOWN');
    expect(status.status?.message).toContain('driver bnxt_en');
  });

  it('without the flag (VIFPLUG_REPRESENTOR_DPDK_DEVARGS unset): type dpdk alone', async () => {
    const id = await serve([]);
    const answer = await prepare(id, select(CX6_MAC, { vf: 2 }), true);
    expect(answer).toMatchObject({ plug: true, name: 'enp7s0f0_2', type: 'dpdk' });
    expect(answer.ifaceOptions.size).toBe(0);
  });
});
