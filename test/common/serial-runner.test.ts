/**
 * The one serialized runner: never two runs at once, exactly one more for
 * the requests made during a run, the run that covers a request awaited,
 * join(), settle, onIdle, a failing job, and stop(). Runs are driven by
 * promises the test settles itself: no timers, no timing.
 */

import { describe, expect, it } from 'vitest';

import { SerialRunner } from '../../src/common/serial-runner';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A job whose runs end when the test says; `runs` holds one deferred per run begun. */
function controlledJob() {
  const runs: ReturnType<typeof deferred>[] = [];
  let active = 0;
  let overlapped = false;
  const job = async () => {
    const run = deferred();
    runs.push(run);
    active++;
    if (active > 1) overlapped = true;
    try {
      await run.promise;
    } finally {
      active--;
    }
  };
  return { job, runs, overlapped: () => overlapped };
}

/** Lets every pending promise callback run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Whether `p` has settled by now. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await flush();
  return done;
}

describe('SerialRunner', () => {
  it('begins a run at once when idle (before request() returns) and resolves when it ends', async () => {
    const { job, runs } = controlledJob();
    const runner = new SerialRunner(job);
    const first = runner.request();
    expect(runs).toHaveLength(1);
    expect(await settled(first)).toBe(false);
    runs[0]!.resolve();
    await first;
    const second = runner.request();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await second;
  });

  it('covers every request made during a run with exactly one more run, never beside it', async () => {
    const { job, runs, overlapped } = controlledJob();
    const runner = new SerialRunner(job);
    const first = runner.request();
    const during = [runner.request(), runner.request(), runner.request()];
    await flush();
    expect(runs).toHaveLength(1);
    runs[0]!.resolve();
    await first;
    // The requests made during the first run are not answered by it.
    expect(await settled(Promise.race(during))).toBe(false);
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await Promise.all(during);
    await flush();
    expect(runs).toHaveLength(2);
    expect(overlapped()).toBe(false);
  });

  it('a request during the one more run asks for a third, after it', async () => {
    const { job, runs } = controlledJob();
    const runner = new SerialRunner(job);
    void runner.request();
    const second = runner.request();
    runs[0]!.resolve();
    await flush();
    expect(runs).toHaveLength(2);
    const third = runner.request();
    runs[1]!.resolve();
    await second;
    expect(await settled(third)).toBe(false);
    expect(runs).toHaveLength(3);
    runs[2]!.resolve();
    await third;
  });

  it('join(): the run under way when there is one, a new one when idle', async () => {
    const { job, runs } = controlledJob();
    const runner = new SerialRunner(job);
    const first = runner.request();
    const joined = runner.join();
    expect(joined).toBe(first);
    runs[0]!.resolve();
    await joined;
    expect(runs).toHaveLength(1);
    const fresh = runner.join();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await fresh;
  });

  it('a failing run rejects the callers it covers; the one more run still runs, and the runner goes on', async () => {
    const { job, runs } = controlledJob();
    const runner = new SerialRunner(job);
    const first = runner.request();
    const joined = runner.join();
    const next = runner.request();
    runs[0]!.reject(new Error('the hardware said no'));
    await expect(first).rejects.toThrow('the hardware said no');
    await expect(joined).rejects.toThrow('the hardware said no');
    await flush();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await next;
  });

  it('a job that throws before its first await rejects its run like any other failure', async () => {
    const runner = new SerialRunner(() => {
      throw new Error('bug');
    });
    await expect(runner.request()).rejects.toThrow('bug');
    await expect(runner.request()).rejects.toThrow('bug');
  });

  it('settle: requests made while a run from idle settles are covered by it; the one more run does not settle', async () => {
    const { job, runs } = controlledJob();
    const settles: ReturnType<typeof deferred>[] = [];
    const runner = new SerialRunner(job, {
      settle: () => {
        const s = deferred();
        settles.push(s);
        return s.promise;
      },
    });
    const first = runner.request();
    const same = runner.request();
    expect(same).toBe(first);
    expect(runs).toHaveLength(0);
    settles[0]!.resolve();
    await flush();
    expect(runs).toHaveLength(1);
    const more = runner.request();
    runs[0]!.resolve();
    await first;
    await flush();
    expect(runs).toHaveLength(2);
    expect(settles).toHaveLength(1);
    runs[1]!.resolve();
    await more;
  });

  it('onIdle: told once when a run ends with no other queued', async () => {
    const { job, runs } = controlledJob();
    let idle = 0;
    const runner = new SerialRunner(job, { onIdle: () => idle++ });
    const first = runner.request();
    const more = runner.request();
    runs[0]!.resolve();
    await first;
    expect(idle).toBe(0);
    await flush();
    runs[1]!.resolve();
    await more;
    expect(idle).toBe(1);
  });

  it('stop(): the queued run never begins, stop resolves once the run under way has ended, later requests resolve at once', async () => {
    const { job, runs } = controlledJob();
    const runner = new SerialRunner(job);
    const first = runner.request();
    const more = runner.request();
    const stopped = runner.stop();
    expect(await settled(stopped)).toBe(false);
    runs[0]!.reject(new Error('ignored by stop'));
    await expect(first).rejects.toThrow('ignored by stop');
    await stopped;
    await more;
    expect(runs).toHaveLength(1);
    await runner.request();
    await runner.join();
    expect(runs).toHaveLength(1);
  });

  it('stop() while a run settles: its job never begins', async () => {
    const { job, runs } = controlledJob();
    const settle = deferred();
    const runner = new SerialRunner(job, { settle: () => settle.promise });
    const first = runner.request();
    const stopped = runner.stop();
    settle.resolve();
    await first;
    await stopped;
    expect(runs).toHaveLength(0);
  });
});
