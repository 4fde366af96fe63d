/**
 * The one backoff: its waits, its jitter (with an injected random source),
 * free tries, the series started over after an attempt that lived, reset(),
 * and its refusal of options that make no sense.
 */

import { describe, expect, it } from 'vitest';

import { Backoff, backoffDelay } from '../../src/common/backoff';

const waits = (b: Backoff, n: number, lived?: number) => Array.from({ length: n }, () => b.next(lived));

describe('backoffDelay', () => {
  it('is minMs times factor^(n-1) for the n-th failure, at most maxMs; 0 before any', () => {
    const range = { minMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, range))).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, { minMs: 10, maxMs: 1000, factor: 3 }))).toEqual([10, 30, 90]);
  });

  it('stays at maxMs however long the series (no overflow), and at 0 from a minMs of 0', () => {
    expect(backoffDelay(5000, { minMs: 100, maxMs: 60_000 })).toBe(60_000);
    expect(backoffDelay(5000, { minMs: 0, maxMs: 60_000 })).toBe(0);
  });

  it('never exceeds maxMs, even below minMs', () => {
    expect(backoffDelay(1, { minMs: 200, maxMs: 50 })).toBe(50);
  });
});

describe('Backoff', () => {
  it('waits minMs after the first failure, doubling up to maxMs', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800 });
    expect(b.currentMs).toBe(0);
    expect(waits(b, 6)).toEqual([100, 200, 400, 800, 800, 800]);
    expect(b.failures).toBe(6);
    expect(b.currentMs).toBe(800);
    expect(b.atMax).toBe(true);
  });

  it('reset(): the next failure waits minMs again', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800 });
    waits(b, 3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.currentMs).toBe(0);
    expect(b.atMax).toBe(false);
    expect(waits(b, 2)).toEqual([100, 200]);
  });

  it('jitter cuts each wait by a random share of at most `jitter`, rounded to the millisecond', () => {
    const draws = [0, 0.5, 0.999, 0];
    const b = new Backoff({ minMs: 1000, maxMs: 8000, jitter: 0.5, random: () => draws.shift()! });
    expect(waits(b, 4)).toEqual([500, 1500, 3998, 4000]);
    // The un-jittered wait is what the series grows from.
    expect(b.currentMs).toBe(8000);
  });

  it('with jitter 1 a wait may be cut to nothing; without jitter the random source is never asked', () => {
    expect(new Backoff({ minMs: 1000, maxMs: 8000, jitter: 1, random: () => 0 }).next()).toBe(0);
    const never = () => {
      throw new Error('asked for randomness');
    };
    expect(new Backoff({ minMs: 1000, maxMs: 8000, random: never }).next()).toBe(1000);
  });

  it('freeTries: that many attempts, the first included, go without a wait', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800, freeTries: 3 });
    expect(waits(b, 5)).toEqual([0, 0, 100, 200, 400]);
    expect(b.failures).toBe(5);
    for (const freeTries of [0, 1]) expect(new Backoff({ minMs: 100, maxMs: 800, freeTries }).next()).toBe(100);
  });

  it('reset() gives the free tries back', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800, freeTries: 2 });
    expect(waits(b, 3)).toEqual([0, 100, 200]);
    b.reset();
    expect(waits(b, 2)).toEqual([0, 100]);
  });

  it('resetAfterMs: a failure after an attempt that lived that long starts a new series', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800, resetAfterMs: 800 });
    expect(waits(b, 3, 10)).toEqual([100, 200, 400]);
    expect(b.next(799)).toBe(800);
    expect(b.next(800)).toBe(100);
    expect(b.next()).toBe(200);
    // Without a resetAfterMs, how long the attempt lived does not matter.
    const plain = new Backoff({ minMs: 100, maxMs: 800 });
    expect(waits(plain, 3, 60_000)).toEqual([100, 200, 400]);
  });

  it("resetAfterMs 'wait': an attempt that lived at least as long as the current wait", () => {
    const b = new Backoff({ minMs: 100, maxMs: 800, resetAfterMs: 'wait' });
    waits(b, 3);
    expect(b.currentMs).toBe(400);
    expect(b.next(399)).toBe(800);
    expect(b.next(800)).toBe(100);
  });

  it('free tries come before any reset for an attempt that lived', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800, freeTries: 2, resetAfterMs: 'wait' });
    expect(b.next(60_000)).toBe(0);
    expect(b.next(60_000)).toBe(100);
  });

  it('refuses options that make no sense, saying which', () => {
    expect(() => new Backoff({ minMs: -1, maxMs: 10 })).toThrow(/minMs must be 0 or more, not -1/);
    expect(() => new Backoff({ minMs: 1, maxMs: Number.NaN })).toThrow(/maxMs/);
    expect(() => new Backoff({ minMs: 1, maxMs: 10, factor: 0.5 })).toThrow(/factor must be 1 or more/);
    expect(() => new Backoff({ minMs: 1, maxMs: 10, jitter: 2 })).toThrow(/jitter must be between 0 and 1/);
    expect(() => new Backoff({ minMs: 1, maxMs: 10, freeTries: 1.5 })).toThrow(/freeTries must be a whole number/);
    expect(() => new Backoff({ minMs: 1, maxMs: 10, resetAfterMs: -5 })).toThrow(/resetAfterMs must be 0 or more/);
  });
});
