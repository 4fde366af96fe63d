import type { Metadata, ServerUnaryCall, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { PlugError, newId } from '../registry';
import { asPlugError, toServiceError } from './status';

/** A service method as plain code: a request in, a response or a thrown error out. */
export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

/** What every call shares: where to log, and whether the server is draining. */
export interface EdgeContext {
  readonly logger: Logger;
  isDraining(): boolean;
}

/**
 * Adapts a plain handler to grpc-js. This is the one place where errors become
 * statuses: whatever the handler throws or rejects with is answered as a
 * status with ErrorInfo, logged once, and never escapes as an unhandled
 * rejection (grpc-js ignores a handler's returned promise).
 */
export function adaptUnary<Req, Res>(path: string, handler: UnaryHandler<Req, Res>, edge: EdgeContext): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    if (edge.isDraining()) {
      fail(path, call, callback, edge, started, draining());
      return;
    }
    let answer: Promise<Res>;
    try {
      answer = handler(call.request, call);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (response) => callback(null, response),
      (err: unknown) => fail(path, call, callback, edge, started, err),
    );
  };
}

function fail<Req, Res>(
  path: string,
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  edge: EdgeContext,
  started: number,
  err: unknown,
): void {
  const error = asPlugError(err);
  try {
    callback(toServiceError(error));
  } catch (sendErr) {
    edge.logger.error({ err: sendErr, method: path }, 'could not send an error status');
  }
  const entry = {
    method: path,
    code: error.status,
    reason: error.reason,
    peer: safePeer(call),
    requestId: requestId(call.metadata),
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
  };
  if (error.status === 'INTERNAL') {
    edge.logger.error({ ...entry, err: error.cause ?? error }, error.message);
  } else {
    edge.logger.info(entry, error.message);
  }
}

function draining(): PlugError {
  return new PlugError('UNAVAILABLE', 'DRAINING', 'the daemon is shutting down; retry against its replacement', {
    retryAfterMs: 1000,
  });
}

function safePeer(call: { getPeer(): string }): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;

/** The caller's x-request-id if it is a sane token, else a fresh one. */
export function requestId(metadata: Metadata): string {
  const given = metadata.get('x-request-id')[0];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
}
