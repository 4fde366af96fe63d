/**
 * The coarse deadline timers the gate and the SDK's PortStream share: a
 * deadline fires once, never early, and a cancelled one never fires, however
 * the buckets are shared and reused.
 */
import { describe, expect, it } from 'vitest';

import { DeadlineTimers } from '../../src/registry/deadline-timers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('DeadlineTimers', () => {
  it('fires each deadline once, not before it is due', async () => {
    const timers = new DeadlineTimers(5);
    const fired: [string, number][] = [];
    const start = Date.now();
    for (const [name, after] of [['a', 30], ['b', 10], ['c', 20], ['d', 10]] as const) {
      timers.add(start + after, () => fired.push([name, Date.now() - start]));
    }
    await sleep(80);
    expect(fired.map(([name]) => name).sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const [name, at] of fired) expect(at, name).toBeGreaterThanOrEqual({ a: 30, b: 10, c: 20, d: 10 }[name]!);
  });

  it('never fires a cancelled deadline, also when the next call reuses its emptied bucket', async () => {
    const timers = new DeadlineTimers(50);
    const fired: string[] = [];
    const at = Date.now() + 20;
    // One call after the other: the first is cancelled before the second comes, into the same bucket.
    timers.add(at, () => fired.push('first'))();
    const cancelSecond = timers.add(at, () => fired.push('second'));
    timers.add(at + 1, () => fired.push('third'));
    cancelSecond();
    // A later bucket takes over as the latest; the emptied one must not keep anything alive or fire.
    const cancelLater = timers.add(at + 200, () => fired.push('later'));
    cancelLater();
    timers.add(at + 120, () => fired.push('fourth'));
    await sleep(300);
    expect(fired).toEqual(['third', 'fourth']);
  });

  it('serves an earlier deadline added after a later one', async () => {
    const timers = new DeadlineTimers(5);
    const fired: string[] = [];
    const start = Date.now();
    timers.add(start + 400, () => fired.push('late'));
    timers.add(start + 15, () => fired.push('early'));
    await sleep(100);
    expect(fired).toEqual(['early']);
  });
});
