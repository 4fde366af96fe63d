/**
 * The registry's change feed: what changed for controllers that reconcile on
 * change rather than poll Run (the Watch RPC). Classes registered or
 * unregistered, instances opened or closed, and an instance's view of the
 * world changed: Run answered `changed`, or the provider noticed by itself
 * (through ProviderContext.viewChanged).
 *
 * Delivery is synchronous and in order to every subscriber; a subscriber must
 * not block (the Watch edge queues per stream and merges what a slow client
 * has not read yet). Changes are hints, not a log: they carry no state, a
 * listener reads it from the registry.
 */

export type ChangeKind = 'provider-registered' | 'provider-unregistered' | 'instance-opened' | 'instance-closed' | 'view-changed';

export interface Change {
  readonly kind: ChangeKind;
  /** The provider type. */
  readonly type: string;
  /** The instance, for instance-* and view-changed; '' otherwise. */
  readonly instanceId: string;
  /** Increases by one with every change published by this feed, from 1. */
  readonly sequence: number;
}

export type ChangeListener = (change: Change) => void;

export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private last = 0;

  /** The sequence of the latest change, 0 before the first. */
  get sequence(): number {
    return this.last;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Calls `listener` for every change from now on; the returned function stops it. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(kind: ChangeKind, type: string, instanceId = ''): void {
    const change: Change = { kind, type, instanceId, sequence: ++this.last };
    for (const listener of this.listeners) {
      // One listener's bug must not keep the change from the others, nor fail
      // the registry operation that published it.
      try {
        listener(change);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }
}
