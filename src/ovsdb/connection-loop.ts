/**
 * The connection life cycle of an OVSDB client, after OVS's reconnect.c and
 * jsonrpc_session: one connection at a time to one remote of the list, taken
 * in turn (in random order, so that clients spread over a cluster), a
 * backoff between failed attempts, and each connection a JSON-RPC session
 * whose inactivity probe drops a peer that went silent.
 *
 * It knows nothing of databases, monitors or transactions: it hands each
 * open session to its handler and learns from the session's end that it is
 * time for the next remote. A session the handler does not want (a cluster
 * member out of the cluster, say) is simply closed by the handler; this
 * loop then moves on as after any other end.
 */

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

import type { Logger } from '../common/log';
import type { Backoff } from '../common/backoff';
import { reconnectBackoff } from './backoff';
import { OvsdbError } from './errors';
import { JsonRpcSession } from './jsonrpc';
import type { Remote } from './remote';
import { connectRemote, type TlsFiles } from './transport';

/** What the loop does with each connection. */
export interface ConnectionHandler<C> {
  /** A session is open on `remote`; returns what the handler keeps for it. */
  opened(remote: Remote, rpc: JsonRpcSession): C;
  /** That session ended; `stopping` when the loop was stopped (no reconnect follows). */
  ended(connection: C, reason: string, stopping: boolean): void;
}

export interface ConnectionLoopOptions {
  readonly remotes: readonly Remote[];
  readonly tls: TlsFiles | undefined;
  readonly logger: Logger;
  readonly shuffleRemotes: boolean;
  /** Idle time before an echo probe (undefined: OVS's default for the remote's kind; 0: none). */
  readonly probeIntervalMs: number | undefined;
  readonly maxMessageBytes: number;
  readonly backoff: { readonly minMs: number; readonly maxMs: number };
}

export class ConnectionLoop {
  private readonly remotes: readonly Remote[];
  private readonly tls: TlsFiles | undefined;
  private readonly logger: Logger;
  private readonly probeIntervalMs: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly backoff: Backoff;
  private nextRemote = 0;
  /** The session of the current connection, from its opening until its end has been handled. */
  private current: JsonRpcSession | undefined;
  /** Aborted by stop(): cuts short a connection attempt or a backoff wait, and ends the loop. */
  private readonly stopping = new AbortController();
  private failure: { readonly remote: string; readonly reason: string } | undefined;

  constructor(options: ConnectionLoopOptions) {
    const remotes = [...options.remotes];
    if (options.shuffleRemotes) shuffle(remotes);
    this.remotes = remotes;
    this.tls = options.tls;
    this.logger = options.logger;
    this.probeIntervalMs = options.probeIntervalMs;
    this.maxMessageBytes = options.maxMessageBytes;
    // Every remote of the list gets one attempt without waiting, as in OVS.
    this.backoff = reconnectBackoff(options.backoff.minMs, options.backoff.maxMs, remotes.length);
  }

  /** Why the last connection attempt failed or the last connection ended. */
  get lastFailure(): { readonly remote: string; readonly reason: string } | undefined {
    return this.failure;
  }

  /**
   * Connects, hands each session to `handler`, and reconnects after its end,
   * until stop(). Rejects only on a bug (an error that is not an OvsdbError).
   */
  async run<C>(handler: ConnectionHandler<C>): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const remote = this.remotes[this.nextRemote]!;
      this.nextRemote = (this.nextRemote + 1) % this.remotes.length;
      let lived: number | undefined;
      let reason: string;
      try {
        this.logger.debug({ remote: remote.name }, 'ovsdb: connecting');
        const socket = await connectRemote(remote, this.tls, Math.max(1000, this.backoff.currentMs), this.stopping.signal);
        if (this.stopping.signal.aborted) {
          socket.destroy();
          break;
        }
        const rpc = this.open(remote, socket);
        const connectedAt = performance.now();
        const connection = handler.opened(remote, rpc);
        const end = await rpc.ended;
        lived = performance.now() - connectedAt;
        reason = end.message;
        this.current = undefined;
        handler.ended(connection, reason, this.stopping.signal.aborted);
      } catch (err) {
        if (!(err instanceof OvsdbError)) throw err;
        reason = err.message;
      }
      if (this.stopping.signal.aborted) break;
      this.failure = { remote: remote.name, reason };
      const wait = this.backoff.next(lived);
      // At the longest wait OVS stops logging each attempt; so do we, down to debug.
      this.logger[this.backoff.atMax ? 'debug' : 'info']({ remote: remote.name, reason, retryInMs: wait }, 'ovsdb: connection lost or refused; trying the next remote');
      await this.sleep(wait);
    }
  }

  /** Stops: ends the current session with `reason` (its pending requests fail) and reconnects no more. */
  stop(reason: Error): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.current?.close(reason);
  }

  private open(remote: Remote, socket: Socket): JsonRpcSession {
    const rpc = new JsonRpcSession(socket, {
      name: remote.name,
      logger: this.logger,
      // As OVS: tcp: and ssl: peers are probed every 5 s by default; a unix: peer is on this host, and its end closes the socket.
      probeIntervalMs: this.probeIntervalMs ?? (remote.kind === 'unix' ? 0 : 5000),
      maxMessageBytes: this.maxMessageBytes,
    });
    this.current = rpc;
    this.logger.debug({ remote: remote.name }, 'ovsdb: connected');
    return rpc;
  }

  private async sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping.signal.aborted) return;
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
  }
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
