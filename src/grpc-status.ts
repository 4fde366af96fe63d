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

/** The Go-style name of a status code (as in grpc_code metric labels and logs). */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

