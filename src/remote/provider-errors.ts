/**
 * What a remote provider's failures mean to the registry's caller. Every
 * PlugError the remote class answers is made here: from a CallFailure, from
 * one port's error in a PreparePorts or PortStream answer, from a session
 * that could not start. One place, so that a failure reads the same
 * whichever route it came by, and every reason a remote provider can give
 * is found in one file.
 *
 * It only words failures. Whether one marks the provider down is the
 * session keeper's decision (session-keeper.ts), which asks here for the
 * words; nothing here calls a provider or keeps state.
 */
import { status as Code } from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import type { PortError } from '../gen/vifplug/provider/v1/provider';
import { PlugError } from '../registry';
import { passedOn, type CallFailure, type ProviderCallError } from './call-failure';
import { unreachable } from './endpoint';
import { API_VERSIONS, clip, isReason } from '../api/wire';

/** The soonest a caller is told to come back, and the first delay between attempts to start a session. */
export const FIRST_RETRY_MS = 100;

/** The words of one remote provider's failures, with its type and endpoint. */
export class ProviderErrors {
  constructor(
    readonly type: string,
    readonly endpoint: string,
    /** Deadline of the calls no controller waits for, quoted when a session start times out. */
    private readonly timeoutMs: number,
    /** The current delay between session attempts: how long the caller of a provider that is down should wait. */
    private readonly retryMs: () => number,
  ) {}

  /**
   * What a failed call means to its caller. The provider's own answer is
   * passed on with its code, reason and message, and its ErrorInfo metadata
   * (at most 16 entries, values cut to 256 characters) under vifplugd's
   * domain, "vifplug" (the service the controller called; every ErrorInfo
   * it gets has that one domain), plus "type", the provider's type, and
   * "provider_domain", the domain the provider gave, if any; a provider's
   * own entries of those two names are dropped. Its RetryInfo delay is
   * passed on (at most 5 minutes); an UNAVAILABLE without one gets 1 s.
   */
  of(method: string, failure: CallFailure): PlugError {
    const type = this.type;
    switch (failure.kind) {
      case 'answered': {
        const metadata: Record<string, string> = { type };
        if (failure.domain !== '') metadata['provider_domain'] = clip(failure.domain, 256);
        let kept = 0;
        for (const [key, value] of failure.metadata) {
          if (kept === 16) break;
          if (key === 'type' || key === 'provider_domain') continue;
          metadata[key] = clip(value, 256);
          kept++;
        }
        return new PlugError(passedOn(failure.code)!, failure.reason, `provider "${type}": ${clip(failure.message, 900)}`, {
          metadata,
          retryAfterMs: failure.retryAfterMs ?? (failure.code === Code.UNAVAILABLE ? 1000 : undefined),
        });
      }
      case 'unavailable':
        return this.answeredUnavailable(method, failure.message, failure.retryAfterMs);
      case 'deadline':
        return new PlugError('DEADLINE_EXCEEDED', 'PROVIDER_TIMEOUT', `provider "${type}" did not answer ${method} in time`, {
          metadata: { type, operation: method },
        });
      case 'cancelled':
        return new PlugError('CANCELLED', 'CALLER_GONE', `the ${method} call to provider "${type}" was cancelled`);
      case 'unimplemented':
        return this.broken(method, `does not implement ${method}, which the provider API requires`);
      case 'bad':
        return this.broken(method, failure.message);
    }
  }

  /** One port's error in a PreparePorts or PortStream answer, judged as PreparePort's status would be. */
  ofPort(method: string, e: PortError): PlugError {
    if (passedOn(e.code) === undefined || !isReason(e.reason)) {
      return this.of(method, { kind: 'bad', message: `answered a port error with code ${e.code} and reason "${clip(e.reason)}": ${clip(e.message, 512)}` });
    }
    return this.of(method, { kind: 'answered', code: e.code, reason: e.reason, message: e.message, metadata: e.metadata, domain: '', retryAfterMs: undefined });
  }

  /** Why a session could not start, or a probe failed, from a failed call (made with a deadline `withinMs` away). */
  ofSession(err: ProviderCallError, withinMs = this.timeoutMs): PlugError {
    const f = err.failure;
    if (f.kind === 'unavailable') return unreachable(this.endpoint, f.message);
    if (f.kind === 'deadline') return unreachable(this.endpoint, `it did not answer within ${withinMs} ms`);
    if (f.kind === 'unimplemented') {
      return new PlugError(
        'FAILED_PRECONDITION',
        'PROVIDER_API_UNSUPPORTED',
        `the server at ${this.endpoint} does not serve vifplug.provider.v1.Provider (${clip(f.message, 200)})`,
        { metadata: { endpoint: this.endpoint, supported: API_VERSIONS.join(',') } },
      );
    }
    return this.of(err.method.slice(err.method.lastIndexOf('/') + 1), f);
  }

  /** The provider is down (`why`): every call fails at once until a session starts again. */
  unavailable(why: PlugError): PlugError {
    const { type, endpoint } = this;
    return new PlugError('UNAVAILABLE', 'PROVIDER_UNAVAILABLE', `provider "${type}" at ${endpoint} is down (${why.reason}: ${why.message}); retry later`, {
      metadata: { type, endpoint, cause: why.reason },
      retryAfterMs: Math.max(this.retryMs(), FIRST_RETRY_MS),
    });
  }

  /**
   * The provider answered UNAVAILABLE without a reason, over a connection
   * that stands: its own word for "not now", not a sign that it is down. The
   * caller gets it with the provider's retry delay; the provider stays
   * serving (only a connection that drops, a failed probe or a broken Watch
   * mark it down).
   */
  answeredUnavailable(method: string, message: string, retryAfterMs: number | undefined): PlugError {
    const { type, endpoint } = this;
    return new PlugError('UNAVAILABLE', 'PROVIDER_UNAVAILABLE', `provider "${type}" answered ${method} UNAVAILABLE without a reason (${clip(message, 200)}); retry later`, {
      metadata: { type, endpoint, cause: 'UNAVAILABLE_WITHOUT_REASON' },
      retryAfterMs: retryAfterMs ?? 1000,
    });
  }

  /** The PortStream a call was under way on broke; the provider still serves, and the next call opens a new stream. */
  portStreamBroke(failure: CallFailure): PlugError {
    const { type, endpoint } = this;
    const why = failure.kind === 'answered' ? `${failure.reason}: ${clip(failure.message, 200)}` : 'message' in failure ? failure.message : failure.kind;
    return new PlugError('UNAVAILABLE', 'PROVIDER_UNAVAILABLE', `provider "${type}" at ${endpoint}: its PortStream broke while the call was under way (${why}); retry`, {
      metadata: { type, endpoint, cause: 'PORT_STREAM_BROKEN' },
      retryAfterMs: FIRST_RETRY_MS,
    });
  }

  /** GetInfo named another type. */
  typeMismatch(served: string): PlugError {
    return new PlugError(
      'FAILED_PRECONDITION',
      'PROVIDER_TYPE_MISMATCH',
      `the provider at ${this.endpoint} serves type "${clip(served)}", not "${this.type}"; register it under its own type`,
      { metadata: { type: this.type, served_type: clip(served), endpoint: this.endpoint } },
    );
  }

  /** GetInfo offered no provider API version this daemon speaks. */
  apiUnsupported(versions: readonly string[]): PlugError {
    const offered = versions.map((v) => clip(v, 16)).join(',') || '(none)';
    return new PlugError(
      'FAILED_PRECONDITION',
      'PROVIDER_API_UNSUPPORTED',
      `the provider at ${this.endpoint} speaks provider API versions ${offered}; this vifplugd speaks ${API_VERSIONS.join(', ')}`,
      { metadata: { offered, supported: API_VERSIONS.join(','), endpoint: this.endpoint } },
    );
  }

  notServing(status: HealthCheckResponse_ServingStatus): PlugError {
    const name = HealthCheckResponse_ServingStatus[status] ?? String(status);
    return new PlugError('UNAVAILABLE', 'PROVIDER_NOT_SERVING', `the provider at ${this.endpoint} reports health ${name}`, {
      metadata: { endpoint: this.endpoint },
      retryAfterMs: 1000,
    });
  }

  initFailed(err: unknown): PlugError {
    const why = err instanceof PlugError ? err.message : String(err);
    return new PlugError('FAILED_PRECONDITION', 'PROVIDER_INIT_FAILED', `provider "${this.type}" failed to initialize and was not registered: ${why}`, {
      metadata: { type: this.type },
      cause: err,
    });
  }

  /** An answer that breaks the provider API. */
  broken(method: string, what: string): PlugError {
    return new PlugError('INTERNAL', 'PROVIDER_ERROR', `provider "${this.type}" ${what} (in ${method}); this is a bug in the provider`, {
      metadata: { type: this.type, operation: method },
    });
  }

  listingUnsupported(): PlugError {
    return new PlugError('UNIMPLEMENTED', 'LISTING_UNSUPPORTED', `provider "${this.type}" plugs no hardware ports and has nothing to list`, {
      metadata: { type: this.type },
    });
  }
}
