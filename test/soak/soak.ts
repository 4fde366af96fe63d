import { join } from 'node:path';

import { Code, VifplugClient, VifplugError } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

export interface SoakOptions {
  readonly cycles: number;
  readonly clients: number;
  /** Probability, per cycle, that a client drops its connection mid-call and reconnects. */
  readonly disconnectRate: number;
  /** The daemon's --ctx-ttl: ctxs orphaned by a disconnect are reaped after it. */
  readonly ctxTtlSeconds: number;
}

export interface SoakReport {
  readonly cycles: number;
  readonly clients: number;
  readonly seconds: number;
  readonly cyclesPerSecond: number;
  readonly disconnects: number;
  /** Outcomes of the calls cut short by a disconnect, by code name. */
  readonly interrupted: Record<string, number>;
  /** Failures that were not caused by a disconnect: must stay empty. */
  readonly unexpected: string[];
  readonly ctxsAtEnd: number;
  readonly reapedCtxs: number;
  readonly rssMiB: { readonly start: number; readonly afterWarmup: number; readonly end: number };
  readonly heapUsedMiB: { readonly afterWarmup: number; readonly end: number };
  /** Heap used (MiB) after a full GC with no call under way, after each tenth of the run: growth here is memory kept. */
  readonly heapSeriesMiB: number[];
}

/**
 * Prepare / finish / destroy cycles from many concurrent clients against a
 * real daemon process, some of which drop their connection mid-call. Reads
 * the daemon's own metrics for its ctxs and memory.
 */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const dir = tempDir('vifplug-soak-');
  const socket = join(dir.path, 'soak.sock');
  let daemon: Daemon | undefined;
  try {
    daemon = await spawnDaemon([
      '--listen', `unix://${socket}`,
      '--providers', 'dummy',
      '--metrics-listen', '127.0.0.1:0',
      '--ctx-ttl', String(options.ctxTtlSeconds),
      '--log-level', 'info',
    ], {}, { waitForServing: false, nodeArgs: ['--expose-gc', '--require', join(__dirname, 'gc-on-signal.js')] });
    const metricsUrl = await metricsAddress(daemon);
    const sample = async () => parseMetrics(await (await fetch(metricsUrl)).text());
    /** The daemon's heap after a full GC while no call is under way: what it keeps, not garbage. */
    const keptHeapMiB = async () => {
      daemon!.proc.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 200));
      return Math.round(((await sample()).nodejs_heap_size_used_bytes! / 2 ** 20) * 10) / 10;
    };
    const start = await sample();

    const target = `unix://${socket}`;
    const interrupted: Record<string, number> = {};
    const unexpected: string[] = [];
    let next = 0;
    let disconnects = 0;
    const series: number[] = [];
    const slots = await Promise.all(
      Array.from({ length: options.clients }, async () => {
        const client = new VifplugClient(target, { deadlineMs: 10_000 });
        return { client, instanceId: (await client.open('dummy')).instanceId };
      }),
    );

    const work = async (slot: (typeof slots)[number], w: number, end: number) => {
      while (next < end) {
        const i = next++;
        const lportName = `lsp-${w}-${i}`;
        const drop = Math.random() < options.disconnectRate;
        try {
          const pending = slot.client.preparePort({ instanceId: slot.instanceId, opType: OpType.OP_TYPE_CREATE, lportName });
          if (drop) {
            disconnects++;
            slot.client.close();
            slot.client = new VifplugClient(target, { deadlineMs: 10_000 });
          }
          const prepared = await pending;
          if (prepared.name !== lportName.slice(0, 15)) unexpected.push(`wrong answer for ${lportName}: ${prepared.name}`);
          await slot.client.finishPort(prepared.ctxId);
          await slot.client.destroyCtx(prepared.ctxId);
        } catch (err) {
          const name = err instanceof VifplugError ? err.codeName : String(err);
          if (drop && err instanceof VifplugError && (err.code === Code.CANCELLED || err.code === Code.UNAVAILABLE)) {
            interrupted[name] = (interrupted[name] ?? 0) + 1;
          } else {
            unexpected.push(`${lportName}: ${name}: ${err instanceof Error ? err.message : ''}`);
          }
        }
      }
    };

    // Ten phases; between them, with no call under way, the heap the daemon keeps is sampled.
    let busy = 0;
    let afterWarmup: Record<string, number> | undefined;
    for (let phase = 1; phase <= 10; phase++) {
      const t0 = performance.now();
      await Promise.all(slots.map((slot, w) => work(slot, w, Math.round((options.cycles * phase) / 10))));
      busy += performance.now() - t0;
      series.push(await keptHeapMiB());
      if (phase === 1) afterWarmup = await sample();
    }
    for (const slot of slots) slot.client.close();
    const seconds = busy / 1000;

    // Ctxs orphaned by a disconnect (answered, but the answer never reached the client) live until the TTL.
    let end = await sample();
    const deadline = Date.now() + (options.ctxTtlSeconds * 2 + 5) * 1000;
    while (end.vifplug_ctxs! > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      end = await sample();
    }
    const mib = (m: Record<string, number> | undefined, key: string) => Math.round(((m?.[key] ?? NaN) / 2 ** 20) * 10) / 10;
    return {
      cycles: options.cycles,
      clients: options.clients,
      seconds: Math.round(seconds * 100) / 100,
      cyclesPerSecond: Math.round(options.cycles / seconds),
      disconnects,
      interrupted,
      unexpected: unexpected.slice(0, 20),
      ctxsAtEnd: end.vifplug_ctxs!,
      reapedCtxs: end.vifplug_ctxs_reaped_total!,
      rssMiB: { start: mib(start, 'process_resident_memory_bytes'), afterWarmup: mib(afterWarmup, 'process_resident_memory_bytes'), end: mib(end, 'process_resident_memory_bytes') },
      heapUsedMiB: { afterWarmup: mib(afterWarmup, 'nodejs_heap_size_used_bytes'), end: mib(end, 'nodejs_heap_size_used_bytes') },
      heapSeriesMiB: await Promise.all(series),
    };
  } finally {
    if (daemon !== undefined) await daemon.stop('SIGTERM');
    dir.remove();
  }
}

async function metricsAddress(daemon: Daemon): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const line = daemon.logs.find((l) => l.msg === 'serving metrics');
    if (line) return line.metrics as string;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the daemon did not serve metrics: ${daemon.stderr()}`);
}

/** Unlabelled series of a Prometheus text exposition. */
function parseMetrics(body: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of body.split('\n')) {
    const m = /^([a-z_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
