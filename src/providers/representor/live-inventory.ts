/**
 * Keeps the lookup index current: full re-reads, one at a time, asked for by
 * one verb, refresh(reason), whose reason says how the read is scheduled:
 * Run, a lookup miss (rate-limited), a monitor event (debounced), the
 * periodic resync. A refresh replaces the index as a whole; it never
 * patches it from an event, so a lost or reordered event costs at most a
 * delay, never a wrong table.
 *
 * It also carries the rename guard. A representor whose netdev first appears
 * while we run, under a kernel-assigned name (eth<N>), is usually renamed by
 * udev moments later (fixture 16: eth6 becomes enp6s0f0npf0sf88); plugging it
 * under the old name would create an OVS port that breaks on the rename.
 * ovn-vif refuses such ports until it sees a udev "move" event, forever if
 * none comes (udev rules that keep eth names, a missed event). Here the port
 * is refused with UNAVAILABLE only during a settle window after it was first
 * seen, then accepted under whatever name it has. Netdevs present at start-up
 * are trusted: they have had time to be renamed.
 *
 * When a refresh fails the previous index stays in use and the view is
 * "stale" (since when, why: hardwareView, the refresh report, health and
 * metrics). Whether devlink is believed and when it is asked again is
 * devlink-health.ts's decision. Each distinct failure is logged when it first
 * appears and when it clears, not at every refresh; dropped ports and
 * attributes are logged per cause, rate-limited, with the count held back.
 */

import type { Logger } from 'pino';

import { RateLimiter } from '../../common/log';
import { SerialRunner } from '../../common/serial-runner';
import type { HardwareView, RefreshListener } from '../../registry/provider';
import { REPRESENTOR_TYPE, type RefreshTiming } from './config';
import { DevlinkError, type DevlinkSource } from './devlink';
import { DevlinkHealth } from './devlink-health';
import { describeDropped, type Dropped } from './dropped';
import { buildInventory } from './inventory';
import { LookupIndex } from './lookup-index';
import { ProcessMonitor, type MonitorCommand } from './monitor';
import type { PortEntry } from './port-entry';
import { collectSnapshot, readDevlink, type DevlinkReading } from './snapshot';
import { SysfsRootError, type SysfsReader } from './sysfs';

export interface LiveInventoryOptions {
  readonly devlink: DevlinkSource;
  readonly sysfs: SysfsReader;
  readonly logger: Logger;
  readonly now: () => number;
  readonly timing: RefreshTiming;
  /** Periodic full re-read; 0 disables. */
  readonly resyncIntervalMs: number;
  readonly monitors: readonly MonitorCommand[];
  readonly onRefreshed?: RefreshListener;
}

/** A refresh failure being reported: logged when it appears and when it clears. */
interface Failure {
  readonly cause: string;
  readonly message: string;
  readonly since: number;
  count: number;
  /** Whether its appearance was logged (then so is its end). */
  readonly logged: boolean;
}

const MAX_DEVLINK_RETRY_MS = 60_000;

/** Kernel-assigned names that udev typically replaces. */
const KERNEL_NAME_RE = /^eth[0-9]+$/;

interface Sighting {
  readonly at: number;
  /** Seen after start-up (the first refresh). */
  readonly runtime: boolean;
}

/**
 * Why the hardware is to be re-read; each reason is scheduled its own way:
 * - run: Run was called: a read that starts after the call (one under way
 *   may have read the hardware before the change the caller made);
 * - resync: the periodic full re-read, scheduled as run;
 * - miss: a lookup found nothing: rate-limited to one read per
 *   missRefreshIntervalMs, shared by the misses within it;
 * - event: a monitor reported a change: one read after a quiet period
 *   (debounceMs), however many events arrive.
 */
export type RefreshReason = 'run' | 'resync' | 'miss' | 'event';

export class LiveInventory {
  private current: LookupIndex | undefined;
  private _generation = 0;
  /** The reads of the hardware: one at a time, and one more queued for the run and resync asked meanwhile. */
  private readonly reads: SerialRunner;
  /** The read of the latest miss, shared by the misses of the next missRefreshIntervalMs. */
  private missRead: Promise<void> | undefined;
  private missReadAt = 0;
  /** Monitor events waiting for a quiet period; `quiet` ends with the read they asked for. */
  private quiet: { readonly done: Promise<void>; readonly end: (read: Promise<void>) => void; readonly timer: NodeJS.Timeout } | undefined;
  private stopped = false;
  private started = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly devlinkHealth: DevlinkHealth;
  private failure: Failure | undefined;
  private lastGoodAt: number | undefined;
  /** Occurrences of a dropped-port cause not logged yet (rate limit). */
  private readonly heldBack = new Map<string, number>();
  private readonly sightings = new Map<string, Sighting>();
  private readonly changeListeners = new Set<() => void>();
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly monitors: ProcessMonitor[] = [];
  private readonly limiter: RateLimiter;

  constructor(private readonly options: LiveInventoryOptions) {
    this.reads = new SerialRunner(() => this.readReported());
    // One line per kind of trouble per minute: they recur on every refresh.
    this.limiter = new RateLimiter(60_000, 1, 1_000, options.now);
    this.devlinkHealth = new DevlinkHealth({
      retryMs: options.timing.devlinkRetryMs,
      maxRetryMs: MAX_DEVLINK_RETRY_MS,
      absentRecheckMs: options.timing.devlinkAbsentRecheckMs,
    });
  }

  /** How current the index is, and why not. */
  get hardwareView(): HardwareView {
    const base = this.lastGoodAt === undefined ? {} : { lastGoodAt: this.lastGoodAt };
    const failure = this.failure;
    if (failure !== undefined) {
      return { ...base, stale: true, degraded: true, since: failure.since, cause: failure.cause, reason: failure.message };
    }
    const error = this.devlinkHealth.lastError;
    if (error === undefined) return { ...base, stale: false, degraded: false };
    // A host without devlink is not degraded: sysfs is all it has.
    if (this.devlinkHealth.mode !== 'failing') return { ...base, stale: false, degraded: false, cause: `devlink ${error.kind}`, reason: `sysfs only: ${error.message}` };
    const since = this.devlinkHealth.failingSince;
    return { ...base, stale: false, degraded: true, ...(since === undefined ? {} : { since }), cause: `devlink ${error.kind}`, reason: `sysfs only: ${error.message}` };
  }

  /** How devlink is used now (working, absent, failing, unknown). */
  get devlinkMode(): string {
    return this.devlinkHealth.mode;
  }

  /** The current index; start() must have succeeded. */
  get index(): LookupIndex {
    if (this.current === undefined) throw new Error('the representor inventory has not been read yet');
    return this.current;
  }

  /** Bumped whenever a refresh changes the index's records. */
  get generation(): number {
    return this._generation;
  }

  /**
   * Calls `listener` whenever what lookups answer may have changed by itself:
   * a refresh changed the index (events, resync, misses, Run), or a port held
   * back by the rename guard settled. The returned function stops it.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => {
      this.changeListeners.delete(listener);
    };
  }

  /**
   * Monitors first, then the first full read, so that a change during the
   * read still triggers a follow-up refresh. Throws when the sysfs root is
   * unusable; devlink problems only degrade to sysfs.
   */
  async start(): Promise<void> {
    for (const command of this.options.monitors) {
      const monitor = new ProcessMonitor(command, {
        logger: this.options.logger,
        restartDelayMs: this.options.timing.monitorRestartMs,
        onEvent: () => void this.refresh('event'),
        onRestart: () => void this.refresh('event'),
      });
      this.monitors.push(monitor);
      monitor.start();
    }
    try {
      await this.read();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.started = true;
    if (this.options.resyncIntervalMs > 0) {
      this.resyncTimer = setInterval(() => void this.refresh('resync'), this.options.resyncIntervalMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Let a refresh in flight finish, so nothing touches the host after stop(); none starts from now on.
    const reads = this.reads.stop();
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.resyncTimer = this.settleTimer = undefined;
    const quiet = this.quiet;
    this.quiet = undefined;
    if (quiet !== undefined) {
      clearTimeout(quiet.timer);
      quiet.end(Promise.resolve());
    }
    await Promise.all(this.monitors.map((m) => m.stop()));
    await reads;
  }

  /**
   * Re-reads the hardware as `reason` asks, and resolves once the read that
   * answers it has ended. Never rejects: a failed read keeps the previous
   * index, and is logged, reported and shown in hardwareView.
   */
  refresh(reason: RefreshReason): Promise<void> {
    switch (reason) {
      case 'run':
      case 'resync':
        return this.readAfterNow();
      case 'miss':
        return this.readOnMiss();
      case 'event':
        return this.readAfterQuiet();
    }
  }

  /** A read that starts after this call: now, or right after the one under way, shared by whoever asks meanwhile. */
  private readAfterNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.reads.request().catch(() => undefined);
  }

  /** At most one read per missRefreshIntervalMs; the misses within it share it, or get the index as it is. */
  private readOnMiss(): Promise<void> {
    const now = this.options.now();
    if (this.missRead !== undefined && now - this.missReadAt < this.options.timing.missRefreshIntervalMs) return this.missRead;
    this.missReadAt = now;
    this.missRead = this.read().catch(() => undefined);
    return this.missRead;
  }

  /** One read after a quiet period of debounceMs, however many events arrive meanwhile. */
  private readAfterQuiet(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.quiet === undefined) {
      let end!: (read: Promise<void>) => void;
      const done = new Promise<void>((resolve) => (end = (read) => void read.then(resolve)));
      const timer = setTimeout(() => {
        this.quiet = undefined;
        end(this.readAfterNow());
      }, this.options.timing.debounceMs);
      timer.unref();
      this.quiet = { done, end, timer };
    }
    return this.quiet.done;
  }

  /** The one read of the hardware at a time: joins the read under way, or starts one; rejects when it fails. */
  private read(): Promise<void> {
    return this.reads.join();
  }

  /** A read of the hardware, reported to onRefreshed; rejects when it fails. Only `reads` runs it. */
  private readReported(): Promise<void> {
    const started = performance.now();
    const report = (ok: boolean) => this.options.onRefreshed?.({ provider: REPRESENTOR_TYPE, seconds: (performance.now() - started) / 1000, ok });
    return this.readAndIndex().then(
      (done) => {
        if (done) {
          this.cleared();
          report(true);
        }
      },
      (err: unknown) => {
        // The first read's failure is start()'s to throw, and its caller's to report: once.
        if (this.started) this.failed(err);
        report(false);
        throw err;
      },
    );
  }

  /** One refresh; false when it was not attempted (devlink failing, retry not due: the last good view stays). */
  private async readAndIndex(): Promise<boolean> {
    const { logger } = this.options;
    const plan = this.devlinkHealth.plan(this.options.now());
    if (plan.action === 'keep-last') {
      logger.debug({ retryInMs: plan.retryAt - this.options.now() }, 'devlink is failing; keeping the last good view until the retry');
      return false;
    }
    const reading: DevlinkReading = plan.action === 'read' ? await readDevlink(this.options.devlink) : { ok: false, error: plan.error };
    if (this.stopped && this.started) return false;
    if (reading.ok) {
      const before = this.devlinkHealth.mode;
      this.devlinkHealth.succeeded();
      if (before === 'absent' || (before === 'failing' && this.current !== undefined && !this.current.devlinkAvailable)) {
        logger.info('devlink answers now; representors are found through devlink and sysfs');
      }
    } else if (plan.action === 'read') {
      const error = reading.error;
      const before = this.devlinkHealth.mode;
      const verdict = this.devlinkHealth.failed(error, this.options.now());
      // Keep the last good picture (sysfs alone lacks the DPU's function
      // MACs), and do not read sysfs for a view that would be thrown away:
      // without devlink that is every netdev, seconds at 16k representors.
      if (verdict === 'keep-last') throw error;
      if (this.devlinkHealth.mode !== before || before === 'unknown') {
        const retry = this.devlinkHealth.mode === 'absent' ? `asking again in ${Math.round(this.options.timing.devlinkAbsentRecheckMs / 1000)} s` : 'retrying with backoff';
        logger.warn({ devlink: error.kind }, `devlink unavailable (${error.message}); representors are found through sysfs only, ${retry}`);
      }
    }
    const snapshot = await collectSnapshot(reading, this.options.sysfs);
    if (this.stopped && this.started) return false;
    this.logDropped(snapshot.warnings);
    // Building for 16k ports takes some tens of milliseconds per step; give
    // waiting lookups and RPCs a turn between the steps.
    await yieldToEventLoop();
    const inventory = buildInventory(snapshot);
    await yieldToEventLoop();
    const now = this.options.now();
    const seen = new Set<string>();
    for (const entry of inventory.entries) {
      if (entry.netdev === '') continue;
      const key = sightingKey(entry);
      seen.add(key);
      if (!this.sightings.has(key)) this.sightings.set(key, { at: now, runtime: this.current !== undefined });
    }
    for (const key of this.sightings.keys()) if (!seen.has(key)) this.sightings.delete(key);
    const index = LookupIndex.build(inventory, { pendingUntil: (entry) => this.pendingUntil(entry) });
    const changed = this.current === undefined || !index.sameRecords(this.current);
    this.current = index;
    this.scheduleSettle(now);
    this.lastGoodAt = Date.now();
    if (changed) {
      this._generation++;
      this.announce();
      logger.info(
        {
          ports: index.records.length,
          pfs: index.anchorCount,
          selectable: index.records.filter((r) => r.lportOptions.size > 0).length,
          devlink: index.devlinkAvailable,
        },
        'representor inventory updated',
      );
    }
    return true;
  }

  /** Each cause of dropped ports or attributes: one line per minute, with what was held back since. */
  private logDropped(notes: readonly Dropped[]): void {
    for (const note of notes) {
      const held = this.heldBack.get(note.cause) ?? 0;
      if (this.limiter.admit(`dropped:${note.cause}`) === undefined) {
        this.heldBack.set(note.cause, held + note.count);
        continue;
      }
      this.heldBack.delete(note.cause);
      const more = held > 0 ? `; ${held} more in refreshes since the last report` : '';
      this.options.logger.warn({ cause: note.cause, count: note.count, ...(held > 0 ? { suppressed: held } : {}) }, `${describeDropped(note)}${more}`);
    }
  }

  /**
   * A failed refresh: logged when its cause differs from the one already
   * reported. A cause that keeps coming back (fails, clears, fails again) is
   * reported at most once a minute, with the number of times it came back.
   */
  private failed(err: unknown): void {
    const cause = failureCause(err);
    const message = `${err instanceof Error ? err.message : String(err)}`;
    if (this.failure !== undefined && this.failure.cause === cause) {
      this.failure.count++;
      return;
    }
    const since = this.failure?.since ?? Date.now();
    const suppressed = this.limiter.admit(`failing:${cause}`);
    this.failure = { cause, message, since, count: 1, logged: suppressed !== undefined };
    if (suppressed === undefined) return;
    const retry = this.devlinkHealth.retryAt > 0 && err instanceof DevlinkError ? `; devlink is asked again in ${Math.max(0, Math.round(this.devlinkHealth.retryAt - this.options.now()))} ms` : '';
    const kept = this.current === undefined ? 'there is no previous inventory' : `answers come from the inventory read at ${new Date(this.lastGoodAt ?? 0).toISOString()}`;
    const again = suppressed > 0 ? ` (it came back ${suppressed} more times since the last report)` : '';
    this.options.logger.warn(
      { cause, staleSince: new Date(since).toISOString(), ...(suppressed > 0 ? { suppressed } : {}) },
      `representor refresh failing: ${message}; ${kept}${retry}${again}`,
    );
  }

  /** A refresh succeeded: a failure reported before has cleared. */
  private cleared(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    this.failure = undefined;
    if (!failure.logged) return;
    this.options.logger.info(
      { cause: failure.cause, failedRefreshes: failure.count, staleForMs: Date.now() - failure.since },
      `representor refresh works again (${failure.count} failed since ${new Date(failure.since).toISOString()}: ${failure.message})`,
    );
  }

  /** Wakes watchers when the next port held back by the rename guard settles (nothing else would). */
  private scheduleSettle(now: number): void {
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const next = this.current?.nextSettle(now);
    if (next === undefined || this.stopped) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.announce();
      this.scheduleSettle(this.options.now());
    }, next - now + 1);
    this.settleTimer.unref();
  }

  private announce(): void {
    for (const listener of this.changeListeners) listener();
  }

  private pendingUntil(entry: PortEntry): number {
    if (!KERNEL_NAME_RE.test(entry.netdev)) return 0;
    const sighting = this.sightings.get(sightingKey(entry));
    return sighting !== undefined && sighting.runtime ? sighting.at + this.options.timing.settleMs : 0;
  }
}

/** What makes two failures "the same" for the log: the kind of trouble, not its wording. */
function failureCause(err: unknown): string {
  if (err instanceof DevlinkError) return `devlink ${err.kind}`;
  if (err instanceof SysfsRootError) return 'sysfs root';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `error ${code}` : 'error';
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A netdev under a port: a new name, or the same name on another port, is a new sighting. */
function sightingKey(entry: PortEntry): string {
  return `${entry.key}\n${entry.netdev}`;
}
