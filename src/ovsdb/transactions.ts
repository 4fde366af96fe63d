/**
 * Sending one transaction and telling its caller precisely what became of
 * it: committed (each operation's result), refused by the server (nothing
 * committed), not sent (no session with its monitor up), or sent with no
 * reply (timeout, abort, connection lost: the outcome is unknown).
 *
 * It must never send a transaction again, not after a reconnect nor after a
 * timeout: one that may have committed could then commit twice. Whether to
 * retry is the caller's decision, after it has read the database again.
 */

import { OvsdbNotConnectedError, OvsdbOutcomeUnknownError } from './errors';
import { SessionLostError, type JsonRpcSession } from './jsonrpc';
import { decodeTransactResult, encodeTransaction, type Operation, type TransactResult } from './operations';
import type { DatabaseSchema } from './schema';

export interface TransactOptions {
  /** Give up waiting for the reply after this long (the outcome is then unknown). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The session a transaction is sent over (see session.ts). */
export interface TransactChannel {
  readonly remoteName: string;
  /** The monitor is installed and the connection still open. */
  readonly monitoring: boolean;
  readonly schema: DatabaseSchema | undefined;
  readonly rpc: JsonRpcSession;
}

/**
 * Runs `ops` as one transaction on `database` over `channel` (the current
 * session, if any). See OvsdbClient.transact for what each outcome means.
 */
export function transact(database: string, channel: TransactChannel | undefined, ops: readonly Operation[], options: TransactOptions): Promise<TransactResult> {
  if (!channel || !channel.monitoring || !channel.schema) {
    return Promise.reject(
      new OvsdbNotConnectedError(`not connected to ${database}${channel ? ` (still starting on ${channel.remoteName})` : ''}; the transaction was not sent: retry after the next resync`),
    );
  }
  const { rpc, remoteName } = channel;
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const schema = channel.schema;
  let params: unknown[];
  try {
    params = encodeTransaction(schema, ops);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return new Promise<TransactResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => giveUp('the transaction was aborted', signal!.reason);
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const id = rpc.request('transact', params, (err, result) => {
      if (err instanceof SessionLostError) {
        return finish(() =>
          reject(
            new OvsdbOutcomeUnknownError(`the connection to ${remoteName} ended before the transaction's reply (${err.message}); it may or may not have committed: read the database again`, { cause: err }),
          ),
        );
      }
      if (err) return finish(() => reject(err));
      finish(() => {
        try {
          resolve(decodeTransactResult(schema, ops, result));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    const giveUp = (why: string, cause: unknown) => {
      if (settled) return;
      rpc.forget(id);
      // Only a transaction blocked in a "wait" can still be cancelled; any other may already have committed.
      rpc.notify('cancel', [id]);
      finish(() => reject(new OvsdbOutcomeUnknownError(`${why} before its reply; it was sent and may or may not have committed: read the database again`, { cause })));
    };
    if (options.timeoutMs !== undefined) timer = setTimeout(() => giveUp(`no reply within ${options.timeoutMs} ms`, undefined), options.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
