/**
 * The API's error model, said once for the daemon, its clients and the SDK:
 * a PlugError answered as google.rpc.Status (code, message, and ErrorInfo
 * always, BadRequest and RetryInfo when they apply) in the
 * grpc-status-details-bin trailer, the same read back from a call's
 * trailers, and the two spellings of every status code.
 */

import { status as Code, type Metadata } from '@grpc/grpc-js';

import { BadRequest, ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details';
import { Status } from '../gen/google/rpc/status';
import type { PlugError } from '../registry';

/** ErrorInfo.domain of every error vifplugd answers with. */
export const ERROR_DOMAIN = 'vifplug';

/** The trailer that carries a serialized google.rpc.Status (gRFC L44 / grpc.io error model). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

// Messages and metadata values may quote what a client sent; a bounded echo
// keeps trailers far below the 8 KiB metadata limit of common clients.
const MAX_MESSAGE = 1024;
const MAX_METADATA_VALUE = 256;

/**
 * google.rpc.Status for a PlugError, with ErrorInfo (always), BadRequest
 * (field violations) and RetryInfo (retryable waits) as details; also the
 * per-item error of batch calls.
 */
export function toStatus(err: PlugError): Status {
  const code = Code[err.status];
  const message = bounded(err.message, MAX_MESSAGE);
  const metadata = new Map<string, string>();
  for (const [key, value] of Object.entries(err.metadata)) metadata.set(key, bounded(value, MAX_METADATA_VALUE));
  const details = [
    {
      typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
      value: Buffer.from(ErrorInfo.encode({ reason: err.reason, domain: ERROR_DOMAIN, metadata }).finish()),
    },
  ];
  if (err.fieldViolations.length > 0) {
    const fieldViolations = err.fieldViolations.map((v) => ({
      field: v.field,
      description: bounded(v.description, MAX_METADATA_VALUE),
      reason: err.reason,
    }));
    details.push({
      typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
      value: Buffer.from(BadRequest.encode(BadRequest.fromPartial({ fieldViolations })).finish()),
    });
  }
  if (err.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.round(err.retryAfterMs));
    const retryDelay = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
    details.push({
      typeUrl: 'type.googleapis.com/google.rpc.RetryInfo',
      value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()),
    });
  }
  return { code, message, details };
}

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Decoded status details, for clients and tests. */
export interface DecodedStatus {
  readonly code: number;
  readonly message: string;
  readonly errorInfo: ErrorInfo | undefined;
  readonly badRequest: BadRequest | undefined;
  readonly retryInfo: RetryInfo | undefined;
}

/** Reads google.rpc.Status and its known details from a call's trailers. */
export function decodeStatusDetails(metadata: Metadata | undefined): DecodedStatus | undefined {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) return undefined;
  const status = Status.decode(raw);
  const find = (name: string) => status.details.find((d) => d.typeUrl === `type.googleapis.com/google.rpc.${name}`)?.value;
  const info = find('ErrorInfo');
  const bad = find('BadRequest');
  const retry = find('RetryInfo');
  return {
    code: status.code,
    message: status.message,
    errorInfo: info && ErrorInfo.decode(info),
    badRequest: bad && BadRequest.decode(bad),
    retryInfo: retry && RetryInfo.decode(retry),
  };
}

/**
 * Every status code with its two spellings: the canonical name (google.rpc.Code,
 * grpc-js's `status` enum, our JSON and tables) and Go's codes.Code.String()
 * (grpcurl's "Code:" line, go-grpc-prometheus's grpc_code label).
 */
const CODES: readonly (readonly [code: Code, name: string, goName: string])[] = [
  [Code.OK, 'OK', 'OK'],
  [Code.CANCELLED, 'CANCELLED', 'Canceled'],
  [Code.UNKNOWN, 'UNKNOWN', 'Unknown'],
  [Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', 'InvalidArgument'],
  [Code.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED', 'DeadlineExceeded'],
  [Code.NOT_FOUND, 'NOT_FOUND', 'NotFound'],
  [Code.ALREADY_EXISTS, 'ALREADY_EXISTS', 'AlreadyExists'],
  [Code.PERMISSION_DENIED, 'PERMISSION_DENIED', 'PermissionDenied'],
  [Code.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED', 'ResourceExhausted'],
  [Code.FAILED_PRECONDITION, 'FAILED_PRECONDITION', 'FailedPrecondition'],
  [Code.ABORTED, 'ABORTED', 'Aborted'],
  [Code.OUT_OF_RANGE, 'OUT_OF_RANGE', 'OutOfRange'],
  [Code.UNIMPLEMENTED, 'UNIMPLEMENTED', 'Unimplemented'],
  [Code.INTERNAL, 'INTERNAL', 'Internal'],
  [Code.UNAVAILABLE, 'UNAVAILABLE', 'Unavailable'],
  [Code.DATA_LOSS, 'DATA_LOSS', 'DataLoss'],
  [Code.UNAUTHENTICATED, 'UNAUTHENTICATED', 'Unauthenticated'],
];

const NAMES = new Map(CODES.map(([code, name]) => [code as number, name]));
const GO_NAMES = new Map(CODES.map(([code, , goName]) => [code as number, goName]));

/** The canonical name of a status code, e.g. NOT_FOUND. */
export function codeName(code: number): string {
  return NAMES.get(code) ?? `CODE_${code}`;
}

/** Go's name of a status code, e.g. NotFound (grpcurl's output, Prometheus grpc_code labels). */
export function goCodeName(code: number): string {
  return GO_NAMES.get(code) ?? String(code);
}
