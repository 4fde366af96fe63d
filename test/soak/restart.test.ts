import { join } from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { Code, VifplugClient, VifplugError } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it.each(['SIGTERM', 'SIGKILL'] as const)(
  'a restart (%s) under load: clients see UNAVAILABLE or NOT_FOUND for state the old daemon held, never a wrong answer; the daemon rebinds its socket',
  async (signal) => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const socket = join(dir.path, 'r.sock');
    const start = async () => {
      const d = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'dummy', '--shutdown-grace', '2']);
      cleanups.push(() => d.stop('SIGKILL'));
      return d;
    };
    let daemon: Daemon = await start();

    const outcomes: Record<string, number> = {};
    const wrong: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      const client = new VifplugClient(`unix://${socket}`, { deadlineMs: 3000 });
      let instanceId = '';
      for (let i = 0; !stop; i++) {
        const lportName = `r${w}-${i}`;
        try {
          if (instanceId === '') instanceId = (await client.open('dummy')).instanceId;
          const prepared = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName });
          if (!prepared.plug || prepared.name !== lportName) wrong.push(`${lportName} -> ${JSON.stringify(prepared)}`);
          await client.finishPort(prepared.ctxId);
          await client.destroyCtx(prepared.ctxId);
          outcomes.OK = (outcomes.OK ?? 0) + 1;
        } catch (err) {
          if (!(err instanceof VifplugError)) throw err;
          const key = `${err.codeName}${err.reason ? `/${err.reason}` : ''}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
          if (err.reason === 'INSTANCE_NOT_FOUND') instanceId = '';
          const expected = err.code === Code.UNAVAILABLE || err.code === Code.CANCELLED || err.code === Code.DEADLINE_EXCEEDED || err.reason === 'INSTANCE_NOT_FOUND' || err.reason === 'CTX_NOT_FOUND';
          if (!expected) wrong.push(`${lportName}: ${err.message}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      client.close();
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));

    await new Promise((r) => setTimeout(r, 500));
    const exit = await daemon.stop(signal);
    expect(exit).toBe(signal === 'SIGTERM' ? 0 : 'SIGKILL');
    daemon = await start();
    const okBefore = outcomes.OK ?? 0;
    for (let i = 0; i < 300 && (outcomes.OK ?? 0) < okBefore + 200; i++) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(workers);

    expect(wrong).toEqual([]);
    expect(outcomes.OK).toBeGreaterThan(okBefore + 100);
    expect(daemon.logs.some((l) => l.msg === 'vifplugd serving')).toBe(true);
  },
  60_000,
);
