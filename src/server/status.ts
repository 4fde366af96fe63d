import { Metadata, status as Code, type ServiceError } from '@grpc/grpc-js';

import { BadRequest, ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details';
import { Status } from '../gen/google/rpc/status';
import { ERROR_DOMAIN, STATUS_DETAILS_KEY } from '../grpc-status';
import { PlugError, describeError, isPlugError } from '../registry';


// Messages and metadata values may quote what a client sent; a bounded echo
// keeps trailers far below the 8 KiB metadata limit of common clients.
const MAX_MESSAGE = 1024;
const MAX_METADATA_VALUE = 256;

/** Turns anything a handler threw into a PlugError; unknown values are our bugs. */
export function asPlugError(err: unknown): PlugError {
  if (isPlugError(err)) return err;
  return new PlugError('INTERNAL', 'INTERNAL_ERROR', `internal error: ${describeError(err)}; please report it with the daemon log`, {
    cause: err,
  });
}

/**
 * The grpc-js error for a PlugError: the status code, the message as
 * grpc-message, and the google.rpc.Status of toStatus in the trailer.
 */
export function toServiceError(err: PlugError): Partial<ServiceError> {
  const status = toStatus(err);
  const trailer = new Metadata();
  trailer.set(STATUS_DETAILS_KEY, Buffer.from(Status.encode(status).finish()));
  return { code: status.code, details: status.message, metadata: trailer };
}

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
