/**
 * How long to wait before the next connection attempt, after OVS's
 * reconnect.c: the first attempt at each remote of a list is free; after
 * that the wait doubles from `minMs` up to `maxMs`; a connection that lived
 * at least as long as the current wait starts over at `minMs`. Each wait is
 * jittered down by up to half, so that the clients of a restarted server do
 * not all come back in the same instant. The arithmetic is the common
 * backoff's; this says which of its options reconnect.c's rules are.
 */

import { Backoff } from '../common/backoff';

export function reconnectBackoff(minMs: number, maxMs: number, remotes: number, random: () => number = Math.random): Backoff {
  return new Backoff({ minMs, maxMs, freeTries: remotes, resetAfterMs: 'wait', jitter: 0.5, random });
}
