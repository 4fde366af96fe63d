/**
 * Drives the representor provider class the way the registry does (init,
 * open, preparePort, run, listRepresentors, close, destroy), against a
 * FakeHost, with a controllable clock and captured logs.
 */

import { Writable } from 'node:stream';

import pino from 'pino';
import { expect } from 'vitest';

import type { RefreshTiming, RepresentorDeps } from '../../../src/providers/representor/config';
import { createRepresentorProvider } from '../../../src/providers/representor/provider';
import { PF_MAC_OPTION, SF_NUM_OPTION, VF_NUM_OPTION } from '../../../src/providers/representor/options';
import { VifplugClient, VifplugError } from '../../../src/client/client';
import { OpType } from '../../../src/gen/vifplug/v1/vifplug';
import { PlugError, isPlugError } from '../../../src/registry/errors';
import { spawnDaemon } from '../../helpers/daemon';
import type { PortCtxIn, PrepareResult, ProviderClass, ProviderInstance, Representor } from '../../../src/registry/provider';
import { devlinkJsonFromText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { layOutDevlinkHost } from '../../helpers/host/layouts';

/** The host PF's MAC on dpuHost(): only devlink knows it (as the function hw_addr of the pcipf port). */
export const DPU_HOST_PF_MAC = 'b8:3f:d2:e1:8f:dc';

/** A DPU with the host's PF and VFs 0 and 1: a sysfs-only view would answer NOT_FOUND for them. */
export function dpuHost(): { host: FakeHost; json: DevlinkJson } {
  const host = new FakeHost();
  const json = devlinkJsonFromText(
    [
      'pci/0000:03:00.0/65535: type eth netdev p0 flavour physical port 0',
      'pci/0000:03:00.0/196608: type eth netdev pf0hpf flavour pcipf controller 1 pfnum 0 external true',
      '  function:',
      `    hw_addr ${DPU_HOST_PF_MAC}`,
      'pci/0000:03:00.0/196609: type eth netdev pf0vf0 flavour pcivf controller 1 pfnum 0 vfnum 0 external true',
      'pci/0000:03:00.0/196610: type eth netdev pf0vf1 flavour pcivf controller 1 pfnum 0 vfnum 1 external true',
    ].join('\n'),
  );
  layOutDevlinkHost(host, json, { uplinks: { p0: { address: 'b8:3f:d2:e1:8f:00' } } });
  return { host, json };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/** A clock that moves only when told to. */
export class FakeClock {
  private t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** What lookup tests need, whether they drive the provider in-process or a real daemon over gRPC. */
export interface LookupHarness {
  readonly host: FakeHost;
  readonly logs: { msg: string }[];
  netdevFor(options: Record<string, string>): Promise<string>;
  errorFor(options: Record<string, string>): Promise<PlugError>;
  list(): Promise<readonly Representor[]>;
  run(): Promise<boolean>;
  close(): Promise<void>;
}

export interface Harness extends LookupHarness {
  readonly host: FakeHost;
  readonly cls: ProviderClass;
  readonly instance: ProviderInstance;
  readonly clock: FakeClock;
  readonly logs: LogLine[];
  /** preparePort(create) with these lport options. */
  prepare(options: Record<string, string>): Promise<PrepareResult>;
  /** The netdev a create is answered with; fails the test on an error. */
  netdevFor(options: Record<string, string>): Promise<string>;
  /** The PlugError a create is answered with; fails the test on success or another error type. */
  errorFor(options: Record<string, string>): Promise<PlugError>;
  list(): Promise<readonly Representor[]>;
  run(): Promise<boolean>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<RefreshTiming>, Pick<RepresentorDeps, 'fs' | 'now' | 'monitors'> {
  readonly resyncIntervalMs?: number;
  readonly devlinkBin?: string;
  /** Use the host's EOPNOTSUPP-capable filesystem seam. */
  readonly hostFs?: boolean;
}

export async function startProvider(host: FakeHost, options: HarnessOptions = {}): Promise<Harness> {
  const { logger, lines } = captureLogger();
  const clock = new FakeClock();
  const { resyncIntervalMs, devlinkBin, hostFs, fs, now, monitors, ...timing } = options;
  const cls = createRepresentorProvider(
    { sysfsRoot: host.sysfsRoot, devlinkBin: devlinkBin ?? host.devlinkBin, ipBin: host.ipBin, resyncIntervalMs: resyncIntervalMs ?? 0 },
    {
      logger,
      now: now ?? clock.now,
      monitors: monitors ?? false,
      timing,
      ...(hostFs ? { fs: host.fs() } : fs === undefined ? {} : { fs }),
    },
  );
  await cls.init?.();
  const instance = await cls.open();
  const prepare = async (lportOptions: Record<string, string>): Promise<PrepareResult> =>
    instance.preparePort(ctxIn('create', lportOptions));
  return {
    host,
    cls,
    instance,
    clock,
    logs: lines,
    prepare,
    async netdevFor(lportOptions) {
      let result: PrepareResult;
      try {
        result = await prepare(lportOptions);
      } catch (err) {
        throw new Error(`expected a representor for ${JSON.stringify(lportOptions)}, got ${isPlugError(err) ? `${err.status}/${err.reason}: ${err.message}` : String(err)}`);
      }
      expect(result.plug).toBe(true);
      if (!result.plug) throw new Error('unreachable');
      expect(result.out?.type).toBe('');
      expect(result.out?.ifaceOptions.size).toBe(0);
      return result.out!.name;
    },
    async errorFor(lportOptions) {
      let error: unknown;
      try {
        const result = await prepare(lportOptions);
        error = new Error(`expected an error for ${JSON.stringify(lportOptions)}, got ${JSON.stringify(result.plug ? result.out?.name : result)}`);
      } catch (err) {
        error = err;
      }
      if (!isPlugError(error)) throw error;
      return error;
    },
    list: async () => (await cls.listRepresentors!()) ?? [],
    run: async () => (await instance.run!()) === true,
    async close() {
      await instance.close?.();
      await cls.destroy?.();
    },
  };
}

export function ctxIn(opType: 'create' | 'remove', lportOptions: Record<string, string>): PortCtxIn {
  return {
    opType,
    useDpdk: false,
    lportName: 'lp-1',
    lportOptions: new Map(Object.entries(lportOptions)),
    ifaceName: '',
    ifaceType: '',
    ifaceOptions: new Map(),
  };
}

/** The lport options selecting VF `vf` (or SF, or the PF representor) of the PF with `mac`. */
export function select(mac: string, fn: { vf?: number | string; sf?: number | string } = {}): Record<string, string> {
  const options: Record<string, string> = { [PF_MAC_OPTION]: mac };
  if (fn.vf !== undefined) options[VF_NUM_OPTION] = String(fn.vf);
  if (fn.sf !== undefined) options[SF_NUM_OPTION] = String(fn.sf);
  return options;
}

/** A MAC from a fixture's text: `link/ether X` or `MAC : X`. */
export function macIn(text: string, pattern: RegExp): string {
  const m = pattern.exec(text);
  if (!m) throw new Error(`no MAC matching ${pattern} in the fixture`);
  return m[1]!;
}

/**
 * The same lookups through a real vifplugd started with --sysfs-root and
 * --devlink-bin pointing at the fake host, and a real gRPC client: exactly
 * what an operator would run against a copy of a host's /sys.
 */
export async function startDaemon(host: FakeHost, options: { resyncIntervalMs?: number } = {}): Promise<LookupHarness> {
  const socket = `${host.dir}/vifplug.sock`;
  const daemon = await spawnDaemon([
    '--listen', `unix://${socket}`,
    '--providers', 'representor',
    '--sysfs-root', host.sysfsRoot,
    '--devlink-bin', host.devlinkBin,
    '--ip-bin', host.ipBin,
    '--resync-interval', String((options.resyncIntervalMs ?? 0) / 1000),
    '--log-level', 'debug',
  ]);
  const client = new VifplugClient(`unix://${socket}`, { maxAttempts: 1 });
  const { instanceId } = await client.open('representor');
  const prepare = (lportOptions: Record<string, string>) =>
    client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lp-1', lportOptions: new Map(Object.entries(lportOptions)) });
  return {
    host,
    logs: daemon.logs,
    async netdevFor(lportOptions) {
      const answer = await prepare(lportOptions).catch((err: unknown) => {
        throw new Error(`expected a representor for ${JSON.stringify(lportOptions)}, got ${String(err)}`);
      });
      expect(answer).toMatchObject({ plug: true, type: '' });
      expect(answer.ifaceOptions.size).toBe(0);
      await client.destroyCtx(answer.ctxId);
      return answer.name;
    },
    async errorFor(lportOptions) {
      const outcome = await prepare(lportOptions).then(
        (answer) => new Error(`expected an error for ${JSON.stringify(lportOptions)}, got ${answer.name}`),
        (err: unknown) => err,
      );
      if (!(outcome instanceof VifplugError)) throw outcome;
      return new PlugError(outcome.codeName as PlugError['status'], outcome.reason, outcome.detail, {
        metadata: Object.fromEntries(outcome.metadata),
      });
    },
    async list() {
      return (await client.listRepresentors()).representors.map((r) => ({ ...r, source: r.source as 'devlink' | 'sysfs' }));
    },
    run: async () => (await client.run(instanceId)).changed,
    async close() {
      client.close();
      expect(await daemon.stop('SIGTERM')).toBe(0);
    },
  };
}
