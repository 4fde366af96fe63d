/**
 * How the agent tells pending lports in its log. Most reasons are an lport's
 * own (its VF is missing, its options are bad): one warning per lport each
 * time its reason changes. Some are one cause shared by every lport they
 * touch (vifplugd unreachable, a provider not registered): said once, with a
 * count ("vifplugd unreachable: 12 lports waiting"), when the first lport
 * starts waiting on it; lports that join later are counted at debug level,
 * and the cause's end is said once too. `vifplug-ovn status` still lists
 * every lport with its reason.
 */

import type { Logger } from 'pino';

import type { PendingEntry } from './pending';

/** Reasons that are one cause for every lport they touch, with how to name the cause. */
const SHARED: Readonly<Record<string, (entry: PendingEntry) => string>> = {
  VIFPLUGD_UNAVAILABLE: () => 'vifplugd unreachable',
  PROVIDER_NOT_REGISTERED: (entry) => `no vifplugd provider for vif-plug-type ${entry.type}`,
};

/** At most this many lports are named in a line; the count says the rest. */
const NAMED = 20;

export class PendingLog {
  /** The shared causes lports wait on, by cause: the lports, as last reported. */
  private waiting = new Map<string, ReadonlySet<string>>();

  constructor(private readonly logger: Logger) {}

  /**
   * After a pass: `pending` is every lport pending now, `changed` those whose
   * reason is new in this pass.
   */
  update(pending: readonly PendingEntry[], changed: ReadonlySet<string>): void {
    const now = new Map<string, { set: Set<string>; first: PendingEntry }>();
    for (const entry of pending) {
      const name = SHARED[entry.reason];
      if (name === undefined) {
        if (changed.has(entry.lport)) this.logger.warn({ lport: entry.lport, type: entry.type, reason: entry.reason }, `lport ${entry.lport} pending: ${entry.message}`);
        continue;
      }
      const cause = name(entry);
      const group = now.get(cause) ?? { set: new Set<string>(), first: entry };
      group.set.add(entry.lport);
      now.set(cause, group);
    }
    for (const [cause, { set, first }] of now) {
      const before = this.waiting.get(cause);
      const lports = [...set].sort();
      const named = lports.length > NAMED ? [...lports.slice(0, NAMED), `... (${lports.length - NAMED} more)`] : lports;
      if (before === undefined) {
        this.logger.warn({ reason: first.reason, type: first.type, count: set.size, lports: named }, `${cause}: ${plural(set.size)} waiting (${first.message})`);
      } else {
        const joined = lports.filter((l) => !before.has(l));
        if (joined.length > 0) this.logger.debug({ reason: first.reason, count: set.size, joined }, `${cause}: ${plural(joined.length)} more waiting, ${set.size} in all`);
      }
    }
    for (const [cause, before] of this.waiting) {
      if (!now.has(cause)) this.logger.info({ count: before.size }, `${cause}: no lport waits for it any more (${plural(before.size)} did)`);
    }
    this.waiting = new Map([...now].map(([cause, { set }]) => [cause, set]));
  }
}

function plural(n: number): string {
  return n === 1 ? '1 lport' : `${n} lports`;
}
