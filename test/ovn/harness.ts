/**
 * A whole chassis for the vifplug-ovn agent, every part real: the OVN
 * sandbox (OVS, ovs-vswitchd, NB/SB, northd, a stock ovn-controller), vifplugd
 * serving the representor provider on a fake host (sysfs tree + devlink
 * stand-in, fixture 01: a ConnectX-6 in switchdev mode) and the dummy
 * provider, and the compiled agent between them, each started as an
 * operator would start it.
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';

import type { Pki } from '../helpers/certs';
import { OvnSandbox, type SandboxOptions } from '../helpers/ovn-sandbox';
import { freePort } from '../helpers/ovsdb-server';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import type { DevlinkJson } from '../helpers/host/devlink-text';
import { devlinkJsonFromText } from '../helpers/host/devlink-text';
import { FakeHost } from '../helpers/host/fake-host';
import { readFixture } from '../helpers/host/fixtures';
import { layOutDevlinkHost } from '../helpers/host/layouts';
import type { AgentStatus, LportStatus } from '../../src/ovn/agent';
import { fetchStatus } from '../../src/ovn/status-server';

export const AGENT = join(__dirname, '..', '..', 'dist', 'cli', 'vifplug-ovn.js');
export const PF_MAC = '10:70:fd:df:9c:3a';
const PF_BDF = '0000:07:00.0';

export interface WorldOptions {
  /** VFs present at start (fixture 01 has 0-4). */
  readonly vfs?: readonly number[];
  /** The agent's --types ('' leaves the flag out); default representor,dummy. */
  readonly types?: string;
  /** The agent's --repair (left out when undefined). */
  readonly repair?: string;
  /** The chassis name (default hv1). */
  readonly chassis?: string;
  /**
   * Another chassis of `join`'s OVN (its NB, SB and northd), with its own OVS,
   * ovn-controller, vifplugd and agent; stop it before `join`.
   */
  readonly join?: World;
  /** More agent flags; a function when they name the sandbox (e.g. its sbSsl remote). */
  readonly agentArgs?: readonly string[] | ((world: World) => readonly string[]);
  /** The sandbox's options beyond the chassis name (hv1). */
  readonly sandbox?: Omit<SandboxOptions, 'chassis'>;
  /** vifplugd on loopback TCP with mutual TLS from this PKI, and the agent reaching it with vifplugctl's TLS flags. */
  readonly vifplugdTls?: Pki;
  /** The agent serves Prometheus metrics on a loopback port (scrape()). */
  readonly metrics?: boolean;
  /** More vifplugd flags, e.g. --representor-dpdk-devargs. */
  readonly vifplugdArgs?: readonly string[];
  /** The PCI VPD of the fake ConnectX's PF (test/helpers/host/vpd.ts). */
  readonly vpd?: Uint8Array;
}

export class World {
  readonly vifplugSocket: string;
  readonly statusSocket: string;
  vifplugd: Daemon | undefined;
  agent: Daemon | undefined;
  /** vifplugd's TCP port when it serves TLS. */
  private vifplugdPort: number | undefined;
  private metricsPort: number | undefined;
  private readonly json: DevlinkJson;

  private constructor(
    readonly sandbox: OvnSandbox,
    readonly host: FakeHost,
    private readonly options: WorldOptions,
  ) {
    this.vifplugSocket = join(sandbox.dir, 'vifplug.sock');
    this.statusSocket = join(sandbox.dir, 'vifplug-ovn.sock');
    const json = devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt'));
    const keep = new Set(options.vfs ?? [0, 1, 2, 3, 4]);
    for (const [handle, port] of Object.entries(json.port)) if (port.flavour === 'pcivf' && !keep.has(port.vfnum!)) delete json.port[handle];
    this.json = json;
    layOutDevlinkHost(host, json, { uplinks: { enp7s0f0: { address: PF_MAC } } });
    // A ConnectX PF, bound to mlx5_core as on a real host.
    host.setPciDriver(PF_BDF, 'mlx5_core');
    if (options.vpd !== undefined) host.setVpd(PF_BDF, options.vpd);
  }

  static async start(options: WorldOptions = {}): Promise<World> {
    const join = options.join?.sandbox;
    const chassis = options.chassis ?? 'hv1';
    // Each chassis has a tunnel endpoint of its own: the Southbound DB refuses two chassis with the same encap.
    const sandbox = await OvnSandbox.start({ ...options.sandbox, chassis, ...(join === undefined ? {} : { join, encapIp: `127.0.0.${Number(/\d+$/.exec(chassis)?.[0] ?? 2) + 1}` }) });
    const world = new World(sandbox, new FakeHost(), options);
    try {
      await world.startVifplugd();
      await world.startAgent();
    } catch (err) {
      await world.stop();
      throw err;
    }
    return world;
  }

  async startVifplugd(): Promise<void> {
    const tls = this.options.vifplugdTls;
    this.vifplugdPort ??= tls === undefined ? undefined : await freePort();
    const listen = tls === undefined
      ? ['--listen', `unix://${this.vifplugSocket}`]
      : ['--listen', `127.0.0.1:${this.vifplugdPort}`, '--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-client-ca', tls.caCert];
    this.vifplugd = await spawnDaemon([
      ...listen,
      '--providers', 'dummy,representor',
      '--sysfs-root', this.host.sysfsRoot,
      '--devlink-bin', this.host.devlinkBin,
      '--ip-bin', this.host.ipBin,
      '--resync-interval', '0',
      '--log-level', 'info',
      ...(this.options.vifplugdArgs ?? []),
    ]);
  }

  async startAgent(extra: readonly string[] = []): Promise<void> {
    const tls = this.options.vifplugdTls;
    const vifplugd = tls === undefined
      ? ['--socket', this.vifplugSocket]
      : ['--addr', `127.0.0.1:${this.vifplugdPort}`, '--tls-ca', tls.caCert, '--tls-cert', tls.clientCert, '--tls-key', tls.clientKey];
    const args = this.options.agentArgs;
    if (this.options.metrics) this.metricsPort ??= await freePort();
    this.agent = await spawnDaemon(
      [
        ...vifplugd,
        '--ovs-db', this.sandbox.ovsDb,
        ...(this.options.types === '' ? [] : ['--types', this.options.types ?? 'representor,dummy']),
        ...(this.options.repair === undefined ? [] : ['--repair', this.options.repair]),
        '--status-socket', this.statusSocket,
        '--log-level', 'debug',
        ...(this.metricsPort === undefined ? [] : ['--metrics-listen', `127.0.0.1:${this.metricsPort}`]),
        ...(typeof args === 'function' ? args(this) : (args ?? [])),
        ...extra,
      ],
      { OVS_RUNDIR: this.sandbox.dir },
      { script: AGENT, readyMessage: 'vifplug-ovn starting' },
    );
  }

  /** Adds VF `vf` to the fake host and tells the provider's monitor, as the kernel would. */
  addVf(vf: number): void {
    const netdev = `enp7s0f0_${vf}`;
    this.json.port[`pci/${PF_BDF}/${vf + 1}`] = { type: 'eth', netdev, flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: vf, external: false, splittable: false };
    this.host.addNetdev({ name: netdev, parent: { pci: PF_BDF }, physPortName: `pf0vf${vf}`, physSwitchId: 'c2cfc60003a1420c' });
    this.host.setDevlinkPorts(this.json);
    this.host.emitDevlinkEvent(`[port,new] pci/${PF_BDF}/${vf + 1}: type eth netdev ${netdev} flavour pcivf controller 0 pfnum 0 vfnum ${vf} external false splittable false`);
  }

  /** An NB logical switch port on sw0 requested to this chassis, plugged by `type` with `options`. */
  async lspAdd(lport: string, type: string, options: Record<string, string> = {}): Promise<void> {
    await this.ensureSwitch();
    const opts = { 'requested-chassis': this.sandbox.hostname, 'vif-plug-type': type, ...options };
    await this.sandbox.nbctl('lsp-add', 'sw0', lport, '--', 'lsp-set-options', lport, ...Object.entries(opts).map(([k, v]) => `${k}=${v}`));
  }

  /** A representor-plugged port on VF `vf` of the fake host's PF (under the lport type --types maps to representor). */
  lspRepresentor(lport: string, vf: number | string): Promise<void> {
    const type = /(?:^|,)([^,=]+)=representor/.exec(this.options.types ?? '')?.[1] ?? 'representor';
    return this.lspAdd(lport, type, { 'vif-plug:representor:pf-mac': PF_MAC, 'vif-plug:representor:vf-num': String(vf) });
  }

  private switched = false;
  private async ensureSwitch(): Promise<void> {
    if (this.switched) return;
    await this.sandbox.nbctl('--may-exist', 'ls-add', 'sw0');
    this.switched = true;
  }

  /** `vifplug-ovn status` against the running agent, as an operator types it; rejects unless it exits 0. */
  async statusText(): Promise<string> {
    const { code, out } = await runAgentCli(['status', '--status-socket', this.statusSocket]);
    if (code !== 0) throw new Error(`vifplug-ovn status exited ${code}: ${out}`);
    return out;
  }

  /** The agent's metrics as Prometheus scrapes them. */
  async scrape(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
    return res.text();
  }

  /**
   * Scrapes until `predicate` holds: gauges are read from the agent's status
   * at scrape time, which settles a moment after the status socket first
   * shows it. Fails with the last scrape, the status and the agent's log.
   */
  async waitScrape(predicate: (text: string) => boolean, what: string, timeoutMs = 5_000): Promise<string> {
    let text = '';
    await this.sandbox
      .waitFor(async () => predicate((text = await this.scrape())), what, { timeoutMs, intervalMs: 100 })
      .catch(async (err: Error) => {
        const vifplugOvn = text.split('\n').filter((line) => line.startsWith('vifplug_ovn_')).join('\n');
        throw new Error(`${err.message}; last scrape:\n${vifplugOvn}\nstatus: ${JSON.stringify(await this.status().catch(String))}\n${this.agentLog()}`);
      });
    return text;
  }

  async status(): Promise<AgentStatus> {
    return fetchStatus(this.statusSocket);
  }

  async lportStatus(lport: string): Promise<LportStatus | undefined> {
    return (await this.status()).lports.find((l) => l.lport === lport);
  }

  /** The agent's interfaces (in any bridge): name -> external_ids text. */
  async pluggedIfaces(): Promise<Map<string, string>> {
    const out = await this.sandbox.vsctl('--bare', '--columns=name,external_ids', 'find', 'Interface', 'external_ids:vifplug-plugged!=""');
    const map = new Map<string, string>();
    const lines = out.split('\n');
    for (let i = 0; i + 1 < lines.length; i += 3) map.set(lines[i]!, lines[i + 1]!);
    return map;
  }

  /** Waits until the agent's interfaces are exactly `names`. */
  async waitPlugged(names: string[], timeoutMs = 10_000): Promise<void> {
    const want = [...names].sort().join(',');
    let seen = '';
    await this.sandbox.waitFor(
      async () => {
        seen = [...(await this.pluggedIfaces()).keys()].sort().join(',');
        return seen === want;
      },
      `the agent's interfaces to be [${want}]`,
      { timeoutMs },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; they are [${seen}]\n${this.agentLog()}`);
    });
  }

  /** Waits until the agent's status satisfies `predicate`; fails with the last status seen and the agent's log. */
  async waitStatus(predicate: (status: AgentStatus) => boolean, what: string, timeoutMs = 10_000): Promise<AgentStatus> {
    let last: AgentStatus | undefined;
    await this.sandbox
      .waitFor(
        async () => {
          last = await this.status().catch(() => undefined);
          return last !== undefined && predicate(last);
        },
        what,
        { timeoutMs, intervalMs: 50 },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}; status: ${JSON.stringify(last)}\n${this.agentLog()}`);
      });
    return last!;
  }

  /** Waits until the agent logged a line whose message matches `pattern`. */
  async waitLog(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    await this.sandbox.waitFor(() => this.agent?.logs.some((l) => pattern.test(l.msg)) ?? false, `the agent to log ${pattern}`, { timeoutMs }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.agentLog()}`);
    });
  }

  /**
   * Waits until the status shows `lport` plugged (on `iface` when given) with
   * no reason left: the agent clears it after FinishPort, which may come after
   * ovn-controller already reported the port up.
   */
  async waitLportPlugged(lport: string, iface?: string, timeoutMs = 10_000): Promise<void> {
    await this.waitStatus(
      (s) => s.lports.some((l) => l.lport === lport && l.state === 'plugged' && l.reason === '' && (iface === undefined || l.iface === iface)),
      `lport ${lport} to be plugged${iface === undefined ? '' : ` on ${iface}`} with no reason left`,
      timeoutMs,
    );
  }

  /** Waits until the status shows `lport` pending with `reason`. */
  async waitPending(lport: string, reason: string, timeoutMs = 10_000): Promise<LportStatus> {
    let last: LportStatus | undefined;
    await this.sandbox.waitFor(
      async () => {
        last = await this.lportStatus(lport).catch(() => undefined);
        return last?.reason === reason;
      },
      `lport ${lport} to be pending with ${reason}`,
      { timeoutMs },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; status: ${JSON.stringify(last)}\n${this.agentLog()}`);
    });
    return last!;
  }

  agentLog(lines = 30): string {
    return (this.agent?.logs ?? [])
      .slice(-lines)
      .map((l) => `${l.level} ${l.msg}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    await this.agent?.stop('SIGTERM').catch(() => undefined);
    await this.vifplugd?.stop('SIGTERM').catch(() => undefined);
    await this.sandbox.stop();
    this.host.remove();
  }
}

/** Runs the compiled vifplug-ovn with `args`; its stdout and stderr together, and its exit code. */
export function runAgentCli(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [AGENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}
