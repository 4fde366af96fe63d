/**
 * What a failed call to a remote provider was, read from its status and
 * trailers, or from bytes that are not the method's message: a CallFailure.
 * Shared by the unary calls (connection.ts), the PortStream (port-stream.ts)
 * and the Watch stream.
 *
 * It only reads. What a failure means to the registry's caller (codes,
 * reasons, whether the provider is down) is decided in provider-errors.ts
 * and session-keeper.ts, so that one reading serves every route.
 */
import { status as Code, type Metadata, type ServiceError } from '@grpc/grpc-js';

import { ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details';
import { Status } from '../gen/google/rpc/status';
import { STATUS_DETAILS_KEY, codeName } from '../api/status';
import type { StatusName } from '../registry';
import { clip, isReason } from '../api/wire';

/** The bytes of an answer were not the method's message. */
export class MalformedAnswer {
  constructor(readonly error: unknown) {}
}

/** How a call to a provider failed, before the remote class decides what it means. */
export type CallFailure =
  /** The provider answered a status with an ErrorInfo reason (its domain, and its RetryInfo delay if any). */
  | {
      readonly kind: 'answered';
      readonly code: number;
      readonly reason: string;
      readonly message: string;
      readonly metadata: ReadonlyMap<string, string>;
      readonly domain: string;
      readonly retryAfterMs: number | undefined;
    }
  /** The provider does not serve the method. */
  | { readonly kind: 'unimplemented'; readonly message: string }
  /**
   * UNAVAILABLE without an ErrorInfo reason: grpc-js's words for a
   * connection that failed or dropped, or the provider's own bare
   * UNAVAILABLE. Only the channel's state tells them apart (the session
   * keeper looks: a connection that still stands answered it).
   */
  | { readonly kind: 'unavailable'; readonly message: string; readonly retryAfterMs: number | undefined }
  | { readonly kind: 'deadline' }
  | { readonly kind: 'cancelled' }
  /** An answer that breaks the API: not the method's message, a status without a reason, a code providers may not use. */
  | { readonly kind: 'bad'; readonly message: string };

export class ProviderCallError extends Error {
  constructor(
    readonly method: string,
    readonly failure: CallFailure,
  ) {
    super(`${method}: ${failure.kind}`);
  }
}

/** The failure a rejected provider call carries; anything else thrown on the way is the provider's fault too. */
export function failureOfThrown(err: unknown): CallFailure {
  if (err instanceof ProviderCallError) return err.failure;
  return { kind: 'bad', message: String(err) };
}

/** Codes a provider may answer with, passed on to the controller as they are. */
const PASSED_ON: ReadonlyMap<number, StatusName> = new Map([
  [Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
  [Code.NOT_FOUND, 'NOT_FOUND'],
  [Code.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
  [Code.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
  [Code.UNAVAILABLE, 'UNAVAILABLE'],
  [Code.ABORTED, 'ABORTED'],
]);

export function passedOn(code: number): StatusName | undefined {
  return PASSED_ON.get(code);
}

/**
 * A decoder that cannot throw: an answer that is not the method's message
 * comes back as MalformedAnswer, so that it is refused as a provider error
 * rather than taken for one of grpc-js's own.
 */
export function tolerant<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | MalformedAnswer {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return new MalformedAnswer(err);
    }
  };
}

export function malformed(answer: MalformedAnswer): CallFailure {
  return { kind: 'bad', message: `answered bytes that are not a valid message of the method (${answer.error instanceof Error ? answer.error.message : String(answer.error)})` };
}

/** What a failed call means, from its status and trailers. */
export function failureOf(err: ServiceError): CallFailure {
  const details = statusDetails(err.metadata);
  switch (err.code) {
    case Code.CANCELLED:
      return { kind: 'cancelled' };
    case Code.DEADLINE_EXCEEDED:
      return { kind: 'deadline' };
    case Code.UNIMPLEMENTED:
      return { kind: 'unimplemented', message: err.details };
  }
  if (details === undefined || !isReason(details.reason)) {
    // grpc-js reports a connection that failed or dropped as UNAVAILABLE
    // with no details, and so may a provider answer.
    if (err.code === Code.UNAVAILABLE) return { kind: 'unavailable', message: transportProblem(err.details), retryAfterMs: details?.retryAfterMs };
    return { kind: 'bad', message: `answered ${codeName(err.code)} without an ErrorInfo reason: ${clip(err.details, 512)}` };
  }
  if (!PASSED_ON.has(err.code)) {
    return { kind: 'bad', message: `answered ${codeName(err.code)} (${details.reason}): ${clip(details.message || err.details, 512)}` };
  }
  return {
    kind: 'answered',
    code: err.code,
    reason: details.reason,
    message: details.message || err.details,
    metadata: details.metadata,
    domain: details.domain,
    retryAfterMs: details.retryAfterMs,
  };
}

/** grpc-js's words for a failed connection, in a few of ours. */
function transportProblem(details: string): string {
  if (/ECONNREFUSED/.test(details)) return 'nothing listens on it (connection refused)';
  if (/ENOENT/.test(details)) return 'it does not exist';
  if (/EACCES|EPERM/.test(details)) return 'permission denied';
  const cleaned = details.replace(/^No connection established\. Last error: (Error: )?/, '').replace(/\. Resolution note: ?$/, '');
  return clip(cleaned || 'the connection failed', 200);
}

interface Details {
  readonly reason: string;
  readonly message: string;
  readonly metadata: ReadonlyMap<string, string>;
  readonly domain: string;
  readonly retryAfterMs: number | undefined;
}

/** The longest retry delay passed on from a provider's RetryInfo. */
const MAX_RETRY_MS = 300_000;

/** The trailer that carries a reason for runtimes without the google.rpc protos. */
export const REASON_TRAILER = 'vifplug-reason';

/**
 * The ErrorInfo (and RetryInfo) of a provider's status if it sent a readable
 * one, else the reason of its vifplug-reason trailer. A status with a
 * RetryInfo and no ErrorInfo gives its delay alone (reason '').
 */
function statusDetails(metadata: Metadata | undefined): Details | undefined {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) {
    const reason = metadata?.get(REASON_TRAILER)[0];
    return typeof reason === 'string' ? { reason, message: '', metadata: new Map(), domain: '', retryAfterMs: undefined } : undefined;
  }
  try {
    const status = Status.decode(raw);
    const info = status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo');
    const retry = status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo');
    const delay = retry === undefined ? undefined : RetryInfo.decode(retry.value).retryDelay;
    const retryAfterMs = delay === undefined ? undefined : Math.min(MAX_RETRY_MS, Math.max(0, Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6)));
    if (info === undefined) return retryAfterMs === undefined ? undefined : { reason: '', message: status.message, metadata: new Map(), domain: '', retryAfterMs };
    const decoded = ErrorInfo.decode(info.value);
    return { reason: decoded.reason, message: status.message, metadata: decoded.metadata, domain: decoded.domain, retryAfterMs };
  } catch {
    return undefined;
  }
}
