/**
 * The Watch RPC: the registry's change feed as one stream per client, with
 * merging and a bounded queue per stream so that a slow reader costs bounded
 * memory.
 */

import { status as Code, type ServerWritableStream, type handleServerStreamingCall } from '@grpc/grpc-js';

import { ChangeKind, VifPlugService, type WatchRequest, type WatchResponse } from '../gen/vifplug/v1/vifplug';
import { PlugError, newId, type Change, type ChangeFeed } from '../registry';
import { NO_METRICS } from '../grpc/call-metrics';
import { asPlugError, toServiceError } from '../grpc/service-error';
import { MalformedRequest, type EdgeContext } from '../grpc/unary';
import * as valid from '../api/validate';

type Stream = ServerWritableStream<WatchRequest, WatchResponse>;

/** Limits of the Watch edge. */
export interface WatchLimits {
  /** Open streams; one more is RESOURCE_EXHAUSTED. */
  readonly maxStreams: number;
  /** Merged events waiting for one slow stream; one more turns them into a single RESYNC. */
  readonly maxPending: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = { maxStreams: 1024, maxPending: 256 };

const KINDS: Record<Change['kind'], ChangeKind> = {
  'provider-registered': ChangeKind.CHANGE_KIND_PROVIDER_REGISTERED,
  'provider-unregistered': ChangeKind.CHANGE_KIND_PROVIDER_UNREGISTERED,
  'instance-opened': ChangeKind.CHANGE_KIND_INSTANCE_OPENED,
  'instance-closed': ChangeKind.CHANGE_KIND_INSTANCE_CLOSED,
  'view-changed': ChangeKind.CHANGE_KIND_VIEW_CHANGED,
};

/**
 * The Watch RPC: one stream per client over the registry's change feed.
 *
 * Each stream has its own queue of events not yet handed to grpc-js, keyed so
 * that repeated changes merge (a provider announcing a hundred hardware
 * events a second costs a slow client one VIEW_CHANGED): the queue holds at
 * most one event per (kind, type, instance) and at most `maxPending`; beyond,
 * it is replaced by one RESYNC. Events are handed to grpc-js only while its
 * buffer is under its high-water mark, so a client that stops reading costs
 * a bounded amount of memory however long it stays. Streams end with
 * UNAVAILABLE / DRAINING at shutdown, since an open stream would otherwise
 * hold a graceful shutdown until its grace period ran out.
 */
export class WatchHub {
  /** Identifies this run of the daemon (WatchResponse.boot_id). */
  readonly bootId = newId();
  private readonly streams = new Set<Watcher>();
  private readonly limits: WatchLimits;

  constructor(
    private readonly feed: ChangeFeed,
    limits: Partial<WatchLimits> = {},
  ) {
    this.limits = { ...DEFAULT_WATCH_LIMITS, ...limits };
  }

  get open(): number {
    return this.streams.size;
  }

  handler(edge: EdgeContext): handleServerStreamingCall<WatchRequest, WatchResponse> {
    const path = VifPlugService.watch.path;
    return (call: Stream) => {
      const done = (edge.metrics ?? NO_METRICS).start(path, 'server_stream');
      done.received();
      let types: ReadonlySet<string> | undefined;
      try {
        if (edge.isDraining()) throw drainingError();
        if (this.streams.size >= this.limits.maxStreams) {
          throw new PlugError('RESOURCE_EXHAUSTED', 'WATCH_LIMIT', `${this.streams.size} Watch streams are open, the limit is ${this.limits.maxStreams}; close some and retry`, {
            retryAfterMs: 1000,
          });
        }
        if ((call.request as unknown) instanceof MalformedRequest) throw (call.request as unknown as MalformedRequest).error();
        valid.batch(call.request.types.length, 'types');
        types = call.request.types.length === 0 ? undefined : new Set(call.request.types.map((t) => valid.providerType(t, 'types')));
      } catch (err) {
        const error = toServiceError(asPlugError(err));
        done.end(error.code!);
        call.emit('error', error);
        return;
      }
      const watcher = new Watcher(call, types, this.limits.maxPending, this.bootId, () => done.sent());
      this.streams.add(watcher);
      const unsubscribe = this.feed.subscribe((change) => watcher.offer(change));
      watcher.resync('start', this.feed.sequence);
      let ended = false;
      const forget = (code: number) => () => {
        if (ended) return;
        ended = true;
        unsubscribe();
        this.streams.delete(watcher);
        watcher.close();
        done.end(code);
      };
      call.on('cancelled', forget(Code.CANCELLED));
      call.on('error', forget(Code.UNKNOWN));
      call.on('finish', forget(Code.OK));
      call.on('close', forget(Code.CANCELLED));
    };
  }

  /** Ends every stream with UNAVAILABLE / DRAINING (shutdown): clients reconnect to the replacement. */
  endAll(): void {
    for (const watcher of [...this.streams]) watcher.fail(drainingError());
    this.streams.clear();
  }
}

function drainingError(): PlugError {
  return new PlugError('UNAVAILABLE', 'DRAINING', 'the daemon is shutting down; watch its replacement', { retryAfterMs: 1000 });
}

/** One stream: merges what its client has not read yet, hands grpc-js one event at a time as its buffer allows. */
class Watcher {
  /** Events not yet written, in the order of their first change, keyed for merging. */
  private pending = new Map<string, WatchResponse>();
  private closed = false;
  private waitingForDrain = false;

  constructor(
    private readonly call: Stream,
    private readonly types: ReadonlySet<string> | undefined,
    private readonly maxPending: number,
    private readonly bootId: string,
    private readonly onSent: () => void,
  ) {}

  offer(change: Change): void {
    if (this.closed || (this.types !== undefined && !this.types.has(change.type))) return;
    const kind = KINDS[change.kind];
    const key = `${kind}\n${change.type}\n${change.instanceId}`;
    const merged = this.pending.get(key);
    if (merged !== undefined) {
      merged.sequence = change.sequence;
    } else if (this.pending.size >= this.maxPending) {
      this.resync('overflow', change.sequence);
      return;
    } else {
      this.pending.set(key, { kind, type: change.type, instanceId: change.instanceId, sequence: change.sequence, reason: '', bootId: '' });
    }
    this.flush();
  }

  /** Replaces whatever waits with one RESYNC: the client reconciles everything anyway. */
  resync(reason: 'start' | 'overflow', sequence: number): void {
    this.pending = new Map([['resync', { kind: ChangeKind.CHANGE_KIND_RESYNC, type: '', instanceId: '', sequence, reason, bootId: this.bootId }]]);
    this.flush();
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
  }

  fail(error: PlugError): void {
    if (this.closed) return;
    this.close();
    this.call.emit('error', toServiceError(error));
  }

  private flush(): void {
    if (this.waitingForDrain || this.closed) return;
    for (const [key, event] of this.pending) {
      this.pending.delete(key);
      this.onSent();
      if (!this.call.write(event)) {
        // grpc-js has a buffer's worth queued: keep merging here until the client reads.
        this.waitingForDrain = true;
        this.call.once('drain', () => {
          this.waitingForDrain = false;
          this.flush();
        });
        return;
      }
    }
  }
}
