import { describe, expect, it } from 'vitest';

import { reconnectBackoff } from '../../src/ovsdb/backoff';

const noJitter = () => 1;

describe('reconnectBackoff', () => {
  it('tries each remote of a list once for free, then doubles from min to max', () => {
    const b = reconnectBackoff(100, 800, 3, noJitter);
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.next())).toEqual([0, 0, 100, 200, 400, 800, 800]);
    expect(b.atMax).toBe(true);
  });

  it('starts over at min after a connection that lived at least as long as the current wait', () => {
    const b = reconnectBackoff(100, 800, 1, noJitter);
    b.next();
    b.next();
    b.next();
    expect(b.currentMs).toBe(400);
    expect(b.next(50)).toBe(800); // up briefly: keep backing off
    expect(b.next(60_000)).toBe(100);
  });

  it('jitters each wait down by at most half', () => {
    const low = reconnectBackoff(1000, 8000, 1, () => 0);
    expect(low.next()).toBe(500);
    const mid = reconnectBackoff(1000, 8000, 1, () => 0.5);
    expect(mid.next()).toBe(750);
  });
});
