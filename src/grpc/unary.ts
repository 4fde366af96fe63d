/**
 * How a unary method is served: the handler is a plain async function of the
 * request, and this adapter is the one place where what it throws becomes a
 * status (with ErrorInfo), where the call is counted and where failures are
 * logged (rate-limited per method and reason). Also the decoding that cannot
 * throw (tolerant), and the call's request id.
 */

import {
  status as Code,
  type Metadata,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type handleUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { RateLimiter } from '../common/log';
import { PlugError, describeError, newId } from '../registry';
import { NO_METRICS, type CallEnd, type CallMetrics } from './call-metrics';
import { asPlugError, toServiceError } from './service-error';

/** A service method as plain code: a request in, a response or a thrown error out. */
export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

/** What every call shares: where to log and count, and whether the server is draining. */
export interface EdgeContext {
  readonly logger: Logger;
  readonly metrics?: CallMetrics;
  /** Limits repeated failure lines per method and reason. */
  readonly failures?: RateLimiter;
  isDraining(): boolean;
}

/**
 * Adapts a plain handler to grpc-js. This is the one place where errors become
 * statuses: whatever the handler throws or rejects with is answered as a
 * status with ErrorInfo, counted, logged (rate-limited per method and
 * reason), and never escapes as an unhandled rejection (grpc-js ignores a
 * handler's returned promise).
 */
export function adaptUnary<Req, Res>(path: string, handler: UnaryHandler<Req, Res>, edge: EdgeContext): handleUnaryCall<Req, Res> {
  const metrics = edge.metrics ?? NO_METRICS;
  const failures = edge.failures ?? new RateLimiter();
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const done = metrics.start(path, 'unary');
    const failed = (err: unknown): void => fail({ path, call, callback, edge, failures, done, started }, err);
    if (edge.isDraining()) {
      failed(draining());
      return;
    }
    if (call.request instanceof MalformedRequest) {
      failed(call.request.error());
      return;
    }
    let answer: Promise<Res>;
    try {
      answer = handler(call.request, call);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (response) => {
        callback(null, response);
        done.end(Code.OK);
        if (edge.logger.isLevelEnabled('debug')) {
          edge.logger.debug({ method: path, code: 'OK', requestId: requestId(call.metadata), durationMs: elapsed(started) }, 'call');
        }
      },
      failed,
    );
  };
}

/** grpc-js implementation of a service whose unary handlers are plain functions. */
export function implement<S extends Record<string, { path: string }>, K extends keyof S & string>(
  service: S,
  handlers: { [P in K]: UnaryHandler<never, unknown> },
  edge: EdgeContext,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  // Only the methods given: streaming methods are implemented apart.
  for (const key of Object.keys(handlers) as K[]) {
    impl[key] = adaptUnary(service[key].path, handlers[key] as UnaryHandler<unknown, unknown>, edge);
  }
  return impl;
}

/** A request whose bytes are not the message they claim to be. */
export class MalformedRequest {
  constructor(private readonly cause: unknown) {}

  error(): PlugError {
    return new PlugError('INVALID_ARGUMENT', 'MALFORMED_REQUEST', `the request is not a valid protobuf message of this method: ${describeError(this.cause)}`, {
      cause: this.cause,
    });
  }
}

/**
 * The service definition with decoding that cannot throw: grpc-js answers a
 * request it cannot decode with INTERNAL, which tells the caller "our bug";
 * decoding failures reach the handler adapter instead and are answered
 * INVALID_ARGUMENT.
 */
export function tolerant<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(service)) {
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(err);
        }
      },
    };
  }
  return out as S;
}

/** A call being answered with an error: what the failure path answers, counts and logs. */
interface FailingCall<Req, Res> {
  readonly path: string;
  readonly call: ServerUnaryCall<Req, Res>;
  readonly callback: sendUnaryData<Res>;
  readonly edge: EdgeContext;
  readonly failures: RateLimiter;
  readonly done: CallEnd;
  readonly started: number;
}

function fail<Req, Res>({ path, call, callback, edge, failures, done, started }: FailingCall<Req, Res>, err: unknown): void {
  const error = asPlugError(err);
  const serviceError = toServiceError(error);
  try {
    callback(serviceError);
  } catch (sendErr) {
    edge.logger.error({ err: sendErr, method: path }, 'could not send an error status');
  }
  done.end(serviceError.code!);
  // Provider bugs are always logged with their stack; expected failures are rate-limited.
  const internal = error.status === 'INTERNAL';
  const suppressed = internal ? 0 : failures.admit(`${path} ${error.reason}`);
  if (suppressed === undefined) return;
  const entry = {
    method: path,
    code: error.status,
    reason: error.reason,
    peer: safePeer(call),
    requestId: requestId(call.metadata),
    durationMs: elapsed(started),
    ...(suppressed > 0 ? { suppressedSimilar: suppressed } : {}),
  };
  if (internal) edge.logger.error({ ...entry, err: error.cause ?? error }, error.message);
  else edge.logger.warn(entry, error.message);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
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
