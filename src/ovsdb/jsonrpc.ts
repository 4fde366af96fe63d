/**
 * JSON-RPC 1.0 over one connected byte stream, as OVSDB speaks it: requests
 * matched to replies, notifications passed on, the server's echo answered,
 * and the inactivity probe (see JsonRpcSession). It must not know OVSDB's
 * methods beyond `echo`: what a request means is its caller's business,
 * and a new connection is the connection loop's.
 */

import type { Duplex } from 'node:stream';

import type { Logger } from '../common/log';
import { OvsdbError, OvsdbProtocolError, OvsdbRpcError } from './errors';
import { JsonStream } from './json-stream';
import { describeSocketError } from './transport';

/** The session ended before the request was answered. */
export class SessionLostError extends OvsdbError {
  override readonly name = 'SessionLostError';
}

/** A request's answer: the result, or why there is none (OvsdbRpcError from the server, SessionLostError). */
export type ReplyHandler = (error: OvsdbError | undefined, result: unknown) => void;

export interface JsonRpcOptions {
  /** The remote's name, for messages. */
  readonly name: string;
  readonly logger: Logger;
  /** Idle time before an echo probe, and again before giving up (0: never probe). */
  readonly probeIntervalMs: number;
  readonly maxMessageBytes: number;
}

interface Message {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: unknown;
}

/**
 * One JSON-RPC 1.0 session over a connected byte stream, as OVS's
 * jsonrpc_session keeps it: requests matched to replies by id, the server's
 * `echo` answered, and an inactivity probe — after `probeIntervalMs` without
 * a byte from the peer it sends an echo, and after as long again it drops the
 * connection (reconnect.c's ACTIVE -> IDLE -> disconnect).
 *
 * Replies and notifications are delivered synchronously in arrival order, so
 * that a monitor's reply is installed before the update that follows it in
 * the same read is applied.
 */
export class JsonRpcSession {
  private nextId = 0;
  private readonly pending = new Map<number, { method: string; handler: ReplyHandler }>();
  private readonly stream: JsonStream;
  private lastActivity = performance.now();
  private probeSentAt: number | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private endReason: Error | undefined;
  private resolveEnded!: (reason: Error) => void;
  /** Resolves once, when the session ends, with the reason. */
  readonly ended: Promise<Error>;
  onNotification: (method: string, params: unknown) => void = () => {};

  constructor(
    private readonly socket: Duplex,
    private readonly options: JsonRpcOptions,
  ) {
    this.stream = new JsonStream(options.maxMessageBytes);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.close(new SessionLostError(`${options.name}: connection dropped (${describeSocketError(err)})`)));
    socket.on('close', () => this.close(new SessionLostError(`${options.name}: connection closed by peer`)));
    socket.on('end', () => this.close(new SessionLostError(`${options.name}: connection closed by peer`)));
    this.armProbe();
  }

  get isOpen(): boolean {
    return this.endReason === undefined;
  }

  /** Sends a request; `handler` runs once with its reply, or with SessionLostError. Returns the request id. */
  request(method: string, params: unknown, handler: ReplyHandler): number {
    const id = this.nextId++;
    if (this.endReason) {
      const reason = this.endReason;
      queueMicrotask(() => handler(new SessionLostError(reason.message), undefined));
      return id;
    }
    this.pending.set(id, { method, handler });
    this.send({ method, params, id });
    return id;
  }

  /** Stops waiting for a reply: a late one is ignored. */
  forget(id: number): void {
    this.pending.delete(id);
  }

  notify(method: string, params: unknown): void {
    if (this.endReason === undefined) this.send({ method, params, id: null });
  }

  /** Ends the session (idempotent): the socket is destroyed and every pending request fails with `reason`. */
  close(reason: Error): void {
    if (this.endReason) return;
    this.endReason = reason;
    clearTimeout(this.probeTimer);
    this.socket.destroy();
    const lost = reason instanceof SessionLostError ? reason : new SessionLostError(reason.message);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.handler(lost, undefined);
    this.resolveEnded(reason);
  }

  private send(message: object): void {
    this.socket.write(JSON.stringify(message));
  }

  private receive(chunk: Buffer): void {
    if (this.endReason) return;
    this.lastActivity = performance.now();
    this.probeSentAt = undefined;
    let messages: unknown[];
    try {
      messages = this.stream.push(chunk);
    } catch (err) {
      this.close(new SessionLostError(`${this.options.name}: ${(err as Error).message}`));
      return;
    }
    for (const m of messages) {
      if (this.endReason) return;
      try {
        this.dispatch(m as Message);
      } catch (err) {
        const why = err instanceof OvsdbError ? err.message : `internal error handling a message: ${(err as Error).stack ?? String(err)}`;
        if (!(err instanceof OvsdbError)) this.options.logger.error({ err }, 'ovsdb: error handling a message');
        this.close(new SessionLostError(`${this.options.name}: ${why}`));
      }
    }
  }

  private dispatch(m: Message): void {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new OvsdbProtocolError('received a JSON-RPC message that is not an object');
    if (typeof m.method === 'string') {
      if (m.id === null || m.id === undefined) {
        this.onNotification(m.method, m.params);
      } else if (m.method === 'echo') {
        this.send({ id: m.id, result: m.params ?? [], error: null });
      } else {
        this.send({ id: m.id, result: null, error: { error: 'unknown method', details: `this client does not serve ${m.method}` } });
      }
      return;
    }
    if (typeof m.id !== 'number') return; // a reply to no request of ours
    const p = this.pending.get(m.id);
    if (!p) return; // forgotten (timed out) or the answer to a probe
    this.pending.delete(m.id);
    if (m.error !== null && m.error !== undefined) p.handler(new OvsdbRpcError(p.method, m.error), undefined);
    else p.handler(undefined, m.result);
  }

  private armProbe(): void {
    const interval = this.options.probeIntervalMs;
    if (interval <= 0 || this.endReason) return;
    const due = (this.probeSentAt ?? this.lastActivity) + interval;
    this.probeTimer = setTimeout(() => this.checkProbe(), Math.max(0, due - performance.now()));
    this.probeTimer.unref();
  }

  private checkProbe(): void {
    const now = performance.now();
    const interval = this.options.probeIntervalMs;
    if (this.probeSentAt !== undefined) {
      if (now - this.probeSentAt >= interval) {
        this.close(new SessionLostError(`${this.options.name}: no response to inactivity probe after ${((now - this.probeSentAt) / 1000).toFixed(1)} s, disconnecting`));
        return;
      }
    } else if (now - this.lastActivity >= interval) {
      this.options.logger.debug({ remote: this.options.name }, 'ovsdb: idle, sending inactivity probe');
      this.probeSentAt = now;
      const id = this.nextId++;
      this.send({ method: 'echo', params: [], id });
    }
    this.armProbe();
  }
}
