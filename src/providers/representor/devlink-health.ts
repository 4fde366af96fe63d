/**
 * Whether to believe devlink, and when to ask it again. Pure: the refresh
 * loop tells it what each reading gave and asks it before each reading.
 *
 * Two kinds of bad news look alike on the wire. "Failed to connect to devlink
 * Netlink" from a kernel that never had devlink means: use sysfs, for good.
 * The same words, or a timeout, or garbage, from a host whose devlink worked
 * means: devlink is failing right now. Reading the second as the first made
 * answers for DPU VFs flip between found (devlink view) and NOT_FOUND
 * (sysfs view) as often as the failure came and went. So:
 *
 * - "no devlink here" is believed only before devlink ever answered; it is
 *   then decided for a long while (absentRecheckMs) before devlink is tried
 *   again, so an intermittent answer changes the view at most once per
 *   recheck, and once devlink has worked it is never believed again;
 * - any failure after devlink has worked keeps the last good view and retries
 *   with exponential backoff (retryMs doubling up to a minute); reads in
 *   between are not attempted;
 * - a failure before devlink ever worked leaves sysfs alone as the picture,
 *   retried with the same backoff: the view changes once, when devlink first
 *   answers.
 */

import { Backoff } from '../../common/backoff';
import type { DevlinkError } from './devlink';

export type DevlinkMode =
  /** Not read yet. */
  | 'unknown'
  /** The last reading succeeded. */
  | 'working'
  /** This host has no devlink (decided; rechecked slowly): sysfs is the whole picture. */
  | 'absent'
  /** devlink failed; see DevlinkHealth.lastError. */
  | 'failing';

export interface DevlinkHealthTiming {
  /** First retry delay after a failure; doubles per failure up to maxRetryMs. */
  readonly retryMs: number;
  readonly maxRetryMs: number;
  /** How long "this host has no devlink" stands before devlink is asked again. */
  readonly absentRecheckMs: number;
}

/** What the next refresh does about devlink. */
export type DevlinkPlan =
  | { readonly action: 'read' }
  /** Read sysfs only; devlink's part of the snapshot is this error. */
  | { readonly action: 'sysfs-only'; readonly error: DevlinkError }
  /** Do not refresh: the last good view stays until the retry time. */
  | { readonly action: 'keep-last'; readonly error: DevlinkError; readonly retryAt: number };

/** What to make of a failed reading. */
export type FailureVerdict = 'sysfs-only' | 'keep-last';

export class DevlinkHealth {
  private _mode: DevlinkMode = 'unknown';
  private worked = false;
  private readonly retry: Backoff;
  private nextAttemptAt = 0;
  private _lastError: DevlinkError | undefined;
  private _failingSince: number | undefined;

  constructor(private readonly timing: DevlinkHealthTiming) {
    this.retry = new Backoff({ minMs: timing.retryMs, maxMs: timing.maxRetryMs });
  }

  get mode(): DevlinkMode {
    return this._mode;
  }

  /** Whether devlink has answered since start. */
  get everWorked(): boolean {
    return this.worked;
  }

  get lastError(): DevlinkError | undefined {
    return this._lastError;
  }

  /** When devlink last stopped answering (absent or failing); undefined while it answers. */
  get failingSince(): number | undefined {
    return this._failingSince;
  }

  /** When devlink is asked again (absent or failing); 0 when it is asked at every refresh. */
  get retryAt(): number {
    return this._mode === 'absent' || this._mode === 'failing' ? this.nextAttemptAt : 0;
  }

  plan(now: number): DevlinkPlan {
    const error = this._lastError;
    if (error === undefined || now >= this.nextAttemptAt || this._mode === 'working' || this._mode === 'unknown') return { action: 'read' };
    if (this.worked) return { action: 'keep-last', error, retryAt: this.nextAttemptAt };
    return { action: 'sysfs-only', error };
  }

  succeeded(): void {
    this._mode = 'working';
    this.worked = true;
    this.retry.reset();
    this.nextAttemptAt = 0;
    this._lastError = undefined;
    this._failingSince = undefined;
  }

  failed(error: DevlinkError, now: number): FailureVerdict {
    this._lastError = error;
    this._failingSince ??= now;
    if (!this.worked && error.saysAbsent) {
      this._mode = 'absent';
      this.nextAttemptAt = now + this.timing.absentRecheckMs;
      return 'sysfs-only';
    }
    this._mode = 'failing';
    this.nextAttemptAt = now + this.retry.next();
    return this.worked ? 'keep-last' : 'sysfs-only';
  }
}
