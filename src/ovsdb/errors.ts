/**
 * What can go wrong talking to an OVSDB server, one class per thing the
 * caller must do differently. The question a writer must answer after a
 * failed transaction is "did it commit?": OvsdbTransactionError and
 * OvsdbNotConnectedError say no, OvsdbOutcomeUnknownError says "maybe, read
 * the database again".
 */

/** Base class of every error this client raises. */
export class OvsdbError extends Error {
  override readonly name: string = 'OvsdbError';
}

/** Bad client configuration (a malformed remote, TLS files missing for an ssl: remote). Fix the flags. */
export class OvsdbConfigError extends OvsdbError {
  override readonly name = 'OvsdbConfigError';
}

/**
 * The server answered a transaction and it did not commit: an operation
 * failed (`opIndex` says which) or the commit itself did (a constraint or
 * referential-integrity violation, `opIndex` undefined). `error` and
 * `details` are the server's own words (RFC 7047 §4.1.3).
 */
export class OvsdbTransactionError extends OvsdbError {
  override readonly name = 'OvsdbTransactionError';
  constructor(
    readonly error: string,
    readonly details: string | undefined,
    readonly opIndex: number | undefined,
    readonly op: string | undefined,
  ) {
    super(
      `transaction failed${opIndex === undefined ? ' at commit' : ` at operation ${opIndex} (${op})`}: ${error}` +
        (details ? `: ${details}` : '') +
        '; nothing was committed',
    );
  }
}

/** The server answered a request with a JSON-RPC error (an unknown method or database, a malformed request). */
export class OvsdbRpcError extends OvsdbError {
  override readonly name = 'OvsdbRpcError';
  constructor(
    readonly method: string,
    readonly error: unknown,
  ) {
    super(`${method} failed: ${describeRpcError(error)}`);
  }
}

function describeRpcError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error !== null && typeof error === 'object') {
    const e = error as { error?: unknown; details?: unknown };
    if (typeof e.error === 'string') return typeof e.details === 'string' ? `${e.error}: ${e.details}` : e.error;
  }
  return JSON.stringify(error);
}

/**
 * The request was not sent: the client is (re)connecting, or closed. Nothing
 * happened on the server; try again after the next `resync` event.
 */
export class OvsdbNotConnectedError extends OvsdbError {
  override readonly name = 'OvsdbNotConnectedError';
}

/**
 * The transaction was sent but no answer came back (the connection was lost,
 * or the caller's timeout or abort came first): it may or may not have
 * committed. Re-read the database (the replica after the next `resync` is the
 * truth) rather than assume either.
 */
export class OvsdbOutcomeUnknownError extends OvsdbError {
  override readonly name = 'OvsdbOutcomeUnknownError';
}

/** The server broke the protocol (unparseable or oversized message, an update for a row we do not have). The client reconnects. */
export class OvsdbProtocolError extends OvsdbError {
  override readonly name = 'OvsdbProtocolError';
}
