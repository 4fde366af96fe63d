import { status as Code, type Metadata } from '@grpc/grpc-js';

import { BadRequest, ErrorInfo, RetryInfo } from './gen/google/rpc/error_details';
import { Status } from './gen/google/rpc/status';

/** ErrorInfo.domain of every error vifplugd answers with. */
export const ERROR_DOMAIN = 'vifplug';

/** The trailer that carries a serialized google.rpc.Status (gRFC L44 / grpc.io error model). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

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
