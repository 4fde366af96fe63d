/**
 * What a handler threw, as grpc-js answers it: anything that is not a
 * PlugError is our bug (INTERNAL), and a PlugError becomes a ServiceError
 * whose trailer carries the google.rpc.Status of api/status.ts.
 */

import { Metadata, type ServiceError } from '@grpc/grpc-js';

import { Status } from '../gen/google/rpc/status';
import { STATUS_DETAILS_KEY, toStatus } from '../api/status';
import { PlugError, describeError, isPlugError } from '../registry';

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
