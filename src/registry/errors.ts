/**
 * Errors of the plugging core. They carry a gRPC status *name* and a stable
 * reason so that the core stays free of gRPC while the edge can still answer
 * with the right code, message and google.rpc.ErrorInfo.
 */

/** The status codes the core and providers may answer with. */
export type StatusName =
  | 'CANCELLED'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

/** One offending request field, reported as a google.rpc.BadRequest violation. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

export interface PlugErrorDetails {
  /** Goes to google.rpc.ErrorInfo.metadata: short machine-readable facts. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly fieldViolations?: readonly FieldViolation[];
  /** A retryable condition's suggested wait, for google.rpc.RetryInfo. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/**
 * An error a caller can act on: `status` says what kind of failure it is,
 * `reason` (UPPER_SNAKE, stable) says which one, `message` says what to do.
 */
export class PlugError extends Error {
  override readonly name = 'PlugError';
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly status: StatusName,
    readonly reason: string,
    message: string,
    details: PlugErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.metadata = details.metadata ?? {};
    this.fieldViolations = details.fieldViolations ?? [];
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isPlugError(err: unknown): err is PlugError {
  return err instanceof PlugError;
}

/** The request is malformed in one field. */
export function invalidField(field: string, description: string, reason = 'INVALID_FIELD'): PlugError {
  return new PlugError('INVALID_ARGUMENT', reason, `${field}: ${description}`, {
    metadata: { field },
    fieldViolations: [{ field, description }],
  });
}

/** A required request field is empty. */
export function missingField(field: string, what: string): PlugError {
  return invalidField(field, `required: ${what}`, 'MISSING_FIELD');
}

/** Describes an unknown thrown value for a message, without its stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** The same error about a field of one item of a batch: `ports[3].lport_name`. */
export function forItem(err: PlugError, path: string): PlugError {
  if (err.fieldViolations.length === 0) return err;
  const field = (f: string) => `${path}.${f}`;
  return new PlugError(err.status, err.reason, `${path}.${err.message}`, {
    metadata: { ...err.metadata, ...(err.metadata.field === undefined ? {} : { field: field(err.metadata.field) }) },
    fieldViolations: err.fieldViolations.map((v) => ({ field: field(v.field), description: v.description })),
    retryAfterMs: err.retryAfterMs,
    cause: err.cause,
  });
}
