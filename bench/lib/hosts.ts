/**
 * The hosts the representor cases run against: PFs with `vfsPerPf` VF
 * representors each, in the host-switchdev shape (an uplink netdev per PF whose
 * address is the pf-mac; a devlink `physical` port and a `pcivf` port per VF;
 * sysfs netdevs with address, ifindex, phys_port_name, phys_switch_id and a
 * `device` link), with stand-in `devlink` and `ip` executables.
 *
 * Made by test/helpers/fake-host.ts (FakeHost + generateLargeHost) when that
 * module is there and works, else by the bench's own writer below, so that
 * the representor cases do not depend on a test helper's API. Either way the
 * result is plain data (it crosses IPC): the in-process index is built from its
 * devlink JSON plus the uplink facts sysfs holds, the naive lookup scans its
 * sysfs tree, and the representor provider reads it through --sysfs-root and
 * the stand-ins.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { loadTest, skip, type Probe } from '../plugins/load';

/** Netdev facts as src/providers/representor/snapshot.ts NetdevFacts has them (uplinks only). */
export interface UplinkFacts {
  readonly name: string;
  readonly ifindex?: number;
  readonly address: string;
  readonly physPortName: string;
  readonly physSwitchId: string;
  readonly deviceName: string;
  readonly onVirtualFunction: false;
}

export interface BenchHost {
  /** Which generator wrote it. */
  readonly source: string;
  readonly dir: string;
  readonly pfs: number;
  readonly vfsPerPf: number;
  readonly representors: number;
  readonly sysfsRoot: string;
  /** `devlink -j port show` output, as a file the bench reads. */
  readonly devlinkJsonPath: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  readonly uplinks: readonly UplinkFacts[];
  /** By PF number. */
  readonly pfMacs: readonly string[];
  /** Representor netdev of (pf, vf) at pf * vfsPerPf + vf. */
  readonly repNames: readonly string[];
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Writes a host under `dir`: test/helpers/fake-host.ts if usable, else the bench's own. */
export function writeHost(dir: string, pfs: number, vfsPerPf: number): { host: BenchHost; fallback?: string; cleanup(): void } {
  const helper = fromTestHelper(dir, pfs, vfsPerPf);
  if (helper.ok) return helper.value;
  return { host: writeSyntheticHost(dir, pfs, vfsPerPf), fallback: helper.why, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface FakeHostLike {
  readonly dir: string;
  readonly sysfsRoot: string;
  readonly devlinkBin: string;
  readonly ipBin: string;
  remove(): void;
  monitorPids?(tool: 'devlink' | 'ip'): number[];
}

interface LargeHostLike {
  readonly pfs: readonly { readonly bdf: string; readonly uplink: string; readonly mac: string }[];
  readonly vfsPerPf: number;
  repName(pf: number, vf: number): string;
  readonly json: unknown;
}

function fromTestHelper(dir: string, pfs: number, vfsPerPf: number): Probe<{ host: BenchHost; cleanup(): void }> {
  const mod = loadTest('helpers/fake-host');
  if (!mod.ok) return mod;
  const FakeHost = mod.value['FakeHost'] as (new () => FakeHostLike) | undefined;
  const generateLargeHost = mod.value['generateLargeHost'] as ((host: FakeHostLike, pfCount: number, vfsPerPf: number) => LargeHostLike) | undefined;
  if (typeof FakeHost !== 'function' || typeof generateLargeHost !== 'function') {
    return skip(`test/helpers/fake-host.ts does not export FakeHost and generateLargeHost (exports: ${Object.keys(mod.value).join(', ')})`);
  }
  let fake: FakeHostLike | undefined;
  try {
    // FakeHost writes under os.tmpdir(): point it at our scratch directory (tmpfs
    // when there is one: about 7x faster to write than a disk-backed /tmp, and
    // closer to sysfs for the naive scan).
    const tmp = process.env['TMPDIR'];
    process.env['TMPDIR'] = dirname(dir);
    try {
      fake = new FakeHost();
    } finally {
      if (tmp === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = tmp;
    }
    const large = generateLargeHost(fake, pfs, vfsPerPf);
    mkdirSync(dir, { recursive: true });
    const devlinkJsonPath = join(dir, 'devlink-ports.json');
    writeFileSync(devlinkJsonPath, JSON.stringify(large.json));
    const net = join(fake.sysfsRoot, 'class', 'net');
    const attr = (name: string, a: string): string => readFileSync(join(net, name, a), 'utf8').trim();
    const uplinks = large.pfs.map(
      (p): UplinkFacts => ({
        name: p.uplink,
        ifindex: Number(attr(p.uplink, 'ifindex')),
        address: p.mac,
        physPortName: attr(p.uplink, 'phys_port_name'),
        physSwitchId: attr(p.uplink, 'phys_switch_id'),
        deviceName: p.bdf,
        onVirtualFunction: false,
      }),
    );
    const repNames: string[] = [];
    for (let pf = 0; pf < pfs; pf++) for (let vf = 0; vf < vfsPerPf; vf++) repNames.push(large.repName(pf, vf));
    const f = fake;
    return {
      ok: true,
      value: {
        host: {
          source: 'test/helpers/fake-host.ts (FakeHost, generateLargeHost)',
          dir: f.dir,
          pfs,
          vfsPerPf,
          representors: pfs * vfsPerPf,
          sysfsRoot: f.sysfsRoot,
          devlinkJsonPath,
          devlinkBin: f.devlinkBin,
          ipBin: f.ipBin,
          uplinks,
          pfMacs: large.pfs.map((p) => p.mac),
          repNames,
        },
        cleanup: () => {
          // Stand-in monitors exit on SIGTERM from the provider; kill any a crashed server left behind.
          for (const tool of ['devlink', 'ip'] as const) {
            for (const pid of f.monitorPids?.(tool) ?? []) {
              try {
                process.kill(pid, 'SIGTERM');
              } catch {
                // Already gone.
              }
            }
          }
          f.remove();
          rmSync(dir, { recursive: true, force: true });
        },
      },
    };
  } catch (err) {
    fake?.remove();
    return skip(`test/helpers/fake-host.ts failed to generate the host: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The bench's own writer (same shape as generateLargeHost). */
export function writeSyntheticHost(dir: string, pfs: number, vfsPerPf: number): BenchHost {
  rmSync(dir, { recursive: true, force: true });
  const sysfsRoot = join(dir, 'sys');
  const net = join(sysfsRoot, 'class', 'net');
  mkdirSync(net, { recursive: true });
  let ifindex = 10;
  const writeNetdev = (name: string, attrs: Record<string, string>, device: string): void => {
    const d = join(net, name);
    mkdirSync(d);
    for (const [k, v] of Object.entries(attrs)) writeFileSync(join(d, k), `${v}\n`);
    symlinkSync(`../../../devices/pci0000:00/${device}`, join(d, 'device'));
  };
  const ports: Record<string, unknown> = {};
  const uplinks: UplinkFacts[] = [];
  const repNames: string[] = [];
  for (let pf = 0; pf < pfs; pf++) {
    const bus = hex2(3 + (pf >> 1));
    const pci = `0000:${bus}:00.${pf & 1}`;
    const f = pf & 1;
    const uplink = `e${bus}f${f}np${f}`;
    const switchId = `0c42a1fffe00${bus}00`;
    const facts: UplinkFacts = {
      name: uplink,
      ifindex: ifindex++,
      address: `0c:42:a1:00:${hex2(pf >> 8)}:${hex2(pf & 0xff)}`,
      physPortName: `p${f}`,
      physSwitchId: switchId,
      deviceName: pci,
      onVirtualFunction: false,
    };
    uplinks.push(facts);
    writeNetdev(uplink, { address: facts.address, ifindex: String(facts.ifindex), phys_port_name: facts.physPortName, phys_switch_id: switchId }, pci);
    ports[`pci/${pci}/65535`] = { type: 'eth', netdev: uplink, flavour: 'physical', port: f, splittable: false };
    for (let vf = 0; vf < vfsPerPf; vf++) {
      const name = `e${bus}f${f}pf${f}vf${vf}`;
      repNames.push(name);
      const mac = `1e:${hex2(pf >> 8)}:${hex2(pf & 0xff)}:${hex2(vf >> 8)}:${hex2(vf & 0xff)}:01`;
      writeNetdev(name, { address: mac, ifindex: String(ifindex++), phys_port_name: `pf${f}vf${vf}`, phys_switch_id: switchId }, pci);
      ports[`pci/${pci}/${vf + 1}`] = { type: 'eth', netdev: name, flavour: 'pcivf', controller: 0, pfnum: f, vfnum: vf, external: false, splittable: false, function: { hw_addr: '00:00:00:00:00:00' } };
    }
  }
  const devlinkJsonPath = join(dir, 'devlink-ports.json');
  writeFileSync(devlinkJsonPath, JSON.stringify({ port: ports }));
  // Monitors must not outlive the server that started them, even if it is killed.
  const waitForParent = 'while kill -0 "$PPID" 2>/dev/null; do sleep 1; done\n';
  const devlinkBin = join(dir, 'devlink');
  writeFileSync(devlinkBin, `#!/bin/sh\nif [ "$1" = "-j" ]; then exec cat '${devlinkJsonPath}'; fi\n${waitForParent}`);
  chmodSync(devlinkBin, 0o755);
  const ipBin = join(dir, 'ip');
  writeFileSync(ipBin, `#!/bin/sh\n${waitForParent}`);
  chmodSync(ipBin, 0o755);
  return {
    source: 'bench/lib/synthetic-host.ts',
    dir,
    pfs,
    vfsPerPf,
    representors: pfs * vfsPerPf,
    sysfsRoot,
    devlinkJsonPath,
    devlinkBin,
    ipBin,
    uplinks,
    pfMacs: uplinks.map((u) => u.address),
    repNames,
  };
}

/** A small deterministic PRNG (mulberry32), so that every run asks for the same ports. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PortPick {
  readonly pf: number;
  readonly vf: number;
  readonly pfMac: string;
  readonly netdev: string;
}

/** `count` random (PF, VF) pairs of the host. */
export function pickPorts(host: Pick<BenchHost, 'pfs' | 'vfsPerPf' | 'pfMacs' | 'repNames'>, count: number, seed = 42): PortPick[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const pf = Math.floor(random() * host.pfs);
    const vf = Math.floor(random() * host.vfsPerPf);
    return { pf, vf, pfMac: host.pfMacs[pf]!, netdev: host.repNames[pf * host.vfsPerPf + vf]! };
  });
}

/** The lport options OVN would forward for a port plugged on that representor. */
export function representorOptions(pick: PortPick): Map<string, string> {
  return new Map([
    ['vif-plug-type', 'representor'],
    ['vif-plug:representor:pf-mac', pick.pfMac],
    ['vif-plug:representor:vf-num', String(pick.vf)],
  ]);
}
