/**
 * The vifplug-ovn agent: turns a stock OVN chassis into one that plugs
 * ports through vifplugd. It reads its identity where ovn-controller does
 * (the local Open_vSwitch record), replicates the Southbound Port_Bindings
 * requested to this chassis and the integration bridge, and reconciles them
 * level-triggered through the pure core (desired.ts, plan.ts), asking
 * vifplugd's providers in batches.
 *
 * A pass runs whenever something it depends on changed: a Port_Binding or
 * an interface (only those lports), a replica loaded afresh after a
 * (re)connection, a Watch event from vifplugd (a provider's view changed:
 * hardware appeared), or a pending lport's retry time. Passes never overlap;
 * what arrives during one is merged into the next.
 *
 * Recovery needs no state file: the agent's interfaces carry its marker, so
 * after a restart (of the agent, of vifplugd, of an OVSDB server) the next
 * pass over fresh replicas finds them and carries on. Until both replicas
 * are complete (the Southbound one with this chassis's condition
 * acknowledged), nothing is unplugged for being absent: ovn-controller's
 * start-up grace, made exact.
 */

import type { Logger } from 'pino';

import { OvsdbClient, type TlsFiles, type UpdateEvent } from '../ovsdb';
import { bridgeOperations } from './bridge-change';
import { desiredPorts, type Desired } from './desired';
import { PendingTable, type BackoffOptions, type PendingEntry } from './pending';
import { isOurs, planChange, pluggedType, sortBridge, toPrepare, toRemove, type Actual, type Plan } from './plan';
import type { VifplugdLink } from './vifplugd-link';
import { OVS_TABLES, bindingCondition, bridgeIfaces, chassisIdentity, localConfig, lportsOfIfaceRows, sbTables, toBinding, type LocalConfig } from './views';

export interface AgentOptions {
  readonly link: VifplugdLink;
  readonly types: readonly string[];
  /** The local Open_vSwitch database, OVS syntax. */
  readonly ovsDb: string;
  /** The Southbound DB; undefined: external_ids:ovn-remote, as ovn-controller. */
  readonly sbDb: string | undefined;
  /** Key, certificate and CA for ssl: remotes. */
  readonly tls?: TlsFiles;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  readonly now?: () => number;
}

/** One lport as `vifplug-ovn status` shows it. */
export interface LportStatus {
  readonly lport: string;
  readonly type: string;
  /** plugged: its interface is in the bridge; pending: not (yet); orphaned: plugged for a type no longer served. */
  readonly state: 'plugged' | 'pending' | 'orphaned';
  readonly iface: string;
  readonly reason: string;
  readonly message: string;
  /** Milliseconds the current reason has lasted. */
  readonly forMs: number;
  readonly attempts: number;
  /** Milliseconds until the next timed retry; null: only a change retries it. */
  readonly retryInMs: number | null;
}

export interface AgentStatus {
  readonly chassis: string;
  readonly bridge: string;
  readonly types: readonly string[];
  readonly connected: { readonly ovs: boolean; readonly sb: boolean };
  /** Whether the agent may unplug (both views complete). */
  readonly complete: boolean;
  readonly lports: readonly LportStatus[];
}

export class Agent {
  private readonly served: ReadonlySet<string>;
  private readonly pending: PendingTable;
  private readonly now: () => number;
  private readonly ovs: OvsdbClient;
  private sb: OvsdbClient | undefined;
  private local: LocalConfig | undefined;
  private sbComplete = false;
  private dirty: Set<string> | 'all' | undefined;
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly warned = new Set<string>();
  private last: { desired: Desired; actual: Actual } | undefined;

  constructor(private readonly options: AgentOptions) {
    this.served = new Set(options.types);
    this.now = options.now ?? (() => Date.now());
    this.pending = new PendingTable(this.now, options.backoff);
    this.ovs = new OvsdbClient({ database: 'Open_vSwitch', remotes: options.ovsDb, tables: OVS_TABLES, logger: options.logger, tls: options.tls });
  }

  /** Connects everything and starts reconciling; resolves once the local configuration is known. */
  async start(): Promise<void> {
    const { logger } = this.options;
    this.ovs.on('resync', () => this.request('all'));
    this.ovs.on('update', (e) => this.onOvsUpdate(e));
    this.ovs.start();
    await this.ovs.ready();
    const ovsRow = () => [...this.ovs.rows('Open_vSwitch').values()][0];
    if (localConfig(ovsRow()).systemId === '' || (this.options.sbDb === undefined && localConfig(ovsRow()).ovnRemote === '')) {
      logger.warn('waiting for external_ids:system-id and external_ids:ovn-remote in the local Open_vSwitch record (ovs-vsctl set open . external_ids:system-id=... external_ids:ovn-remote=...)');
      await this.ovs.waitFor(() => {
        const c = localConfig(ovsRow());
        return c.systemId !== '' && (this.options.sbDb !== undefined || c.ovnRemote !== '');
      });
    }
    if (this.stopped) return;
    const local = localConfig(ovsRow());
    this.local = local;
    const remotes = this.options.sbDb ?? local.ovnRemote;
    logger.info({ chassis: local.systemId, hostname: local.hostname, bridge: local.bridge, sb: remotes, types: this.options.types }, 'vifplug-ovn starting');
    const sb = new OvsdbClient({ database: 'OVN_Southbound', remotes, tables: sbTables(local), logger, tls: this.options.tls });
    this.sb = sb;
    sb.on('resync', () => {
      this.sbComplete = false;
      this.syncChassis();
    });
    sb.on('disconnect', () => {
      this.sbComplete = false;
    });
    sb.on('update', ({ changes }) => {
      if (changes.has('Chassis')) this.syncChassis();
      const bindings = changes.get('Port_Binding');
      if (bindings !== undefined) {
        const lports = [...bindings.inserted, ...bindings.deleted, ...bindings.modified.flatMap((m) => [m.old, m.new])].map((r) => String(r.logical_port));
        this.request(lports);
      }
    });
    sb.start();
    this.options.link.watch((nudge) => {
      // A provider's view changed: its ports may now plug (or plug elsewhere).
      if (nudge.kind === 'all') this.request('all');
      else this.request(this.lportsOfType(nudge.type));
    });
  }

  /** Stops reconciling and disconnects; plugged ports stay as they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    await this.options.link.stop();
    await this.draining?.catch(() => undefined);
    await Promise.all([this.ovs.close(), this.sb?.close()]);
  }

  status(): AgentStatus {
    const now = this.now();
    const lports: LportStatus[] = [];
    const seen = new Set<string>();
    const entry = (lport: string, type: string, state: LportStatus['state'], iface: string, p: PendingEntry | undefined): LportStatus => ({
      lport,
      type,
      state,
      iface,
      reason: p?.reason ?? '',
      message: p?.message ?? '',
      forMs: p === undefined ? 0 : now - p.since,
      attempts: p?.attempts ?? 0,
      retryInMs: p === undefined || p.retryAt === Infinity ? null : Math.max(0, p.retryAt - now),
    });
    for (const [lport, list] of this.last?.actual.ours ?? []) {
      for (const iface of list) {
        const type = pluggedType(iface);
        lports.push(entry(lport, type, this.served.has(type) ? 'plugged' : 'orphaned', iface.name, this.pending.get(lport)));
      }
      seen.add(lport);
    }
    for (const p of this.pending.list()) if (!seen.has(p.lport)) lports.push(entry(p.lport, p.type, 'pending', '', p));
    lports.sort((a, b) => (a.lport < b.lport ? -1 : a.lport > b.lport ? 1 : 0));
    return {
      chassis: this.local?.systemId ?? '',
      bridge: this.local?.bridge ?? '',
      types: this.options.types,
      connected: { ovs: this.ovs.isSynced, sb: this.sb?.isSynced ?? false },
      complete: this.viewComplete(),
      lports,
    };
  }

  private viewComplete(): boolean {
    return this.ovs.isSynced && this.sb !== undefined && this.sb.isSynced && this.sbComplete;
  }

  /**
   * Follows this chassis's row: its uuid joins the Port_Binding condition,
   * and the Southbound view is complete once the server acknowledged it.
   */
  private syncChassis(): void {
    const sb = this.sb;
    const local = this.local;
    if (sb === undefined || local === undefined) return;
    const chassis = chassisIdentity(local, sb.rows('Chassis'));
    sb.setCondition('Port_Binding', bindingCondition(local, chassis.uuid)).then(
      () => {
        if (!sb.isSynced) return;
        this.sbComplete = true;
        this.request('all');
      },
      (err: unknown) => this.options.logger.debug({ err: String(err) }, 'Port_Binding condition not acknowledged; retried on the next connection'),
    );
  }

  private onOvsUpdate({ changes }: UpdateEvent): void {
    if (changes.has('Bridge') || changes.has('Open_vSwitch')) {
      this.request('all');
      return;
    }
    const ifaces = changes.get('Interface');
    if (ifaces !== undefined) this.request(lportsOfIfaceRows([...ifaces.inserted, ...ifaces.deleted, ...ifaces.modified.flatMap((m) => [m.old, m.new])]));
  }

  private lportsOfType(type: string): string[] {
    const out = this.pending.ofType(type);
    for (const [lport, want] of this.last?.desired.wants ?? []) if (want.type === type) out.push(lport);
    return out;
  }

  private request(scope: 'all' | Iterable<string>): void {
    if (this.stopped) return;
    if (scope === 'all') {
      this.dirty = 'all';
    } else if (this.dirty !== 'all') {
      const set: Set<string> = this.dirty ?? new Set();
      for (const lport of scope) set.add(lport);
      this.dirty = set.size === 0 ? undefined : set;
    }
    if (this.dirty !== undefined && this.draining === undefined) this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      // Let the event that asked for this pass be followed by the others of the same burst.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.dirty !== undefined && !this.stopped) {
        const scope = this.dirty;
        this.dirty = undefined;
        try {
          await this.pass(scope === 'all' ? undefined : scope);
        } catch (err) {
          this.options.logger.error({ err }, 'a reconcile pass failed (a bug in vifplug-ovn); retrying');
          this.retryIn(1000);
        }
      }
    } finally {
      this.draining = undefined;
      this.armRetry();
    }
  }

  /** One reconcile pass over `scope` (every lport when undefined). */
  private async pass(scope: ReadonlySet<string> | undefined): Promise<void> {
    const sb = this.sb;
    const local = this.local;
    if (sb === undefined || local === undefined || !this.ovs.isSynced || !sb.isSynced) return;
    const { link, logger } = this.options;
    const chassis = chassisIdentity(local, sb.rows('Chassis'));
    const desired = desiredPorts([...sb.rows('Port_Binding').values()].map(toBinding), chassis, this.served);
    const bridge = bridgeIfaces({ bridges: this.ovs.rows('Bridge'), ports: this.ovs.rows('Port'), ifaces: this.ovs.rows('Interface') }, local.bridge);
    if (bridge === undefined) {
      this.warnOnce(`bridge:${local.bridge}`, `the integration bridge ${local.bridge} does not exist yet (ovn-controller creates it); waiting`);
      return;
    }
    const actual = sortBridge(bridge.ifaces);
    this.last = { desired, actual };

    const step1 = toPrepare(desired.wants, actual, this.served, scope);
    const answers = step1.creates.length > 0 ? await link.prepareCreates(step1.creates) : new Map();
    const canUnplug = this.viewComplete();
    const step2 = toRemove({ wants: desired.wants, invalid: desired.invalid, actual, answers, served: this.served, canUnplug, scope });
    for (const orphan of step2.orphans) {
      this.warnOnce(`orphan:${orphan.ifaceUuid}`, `interface ${orphan.name} was plugged by vifplug-ovn for vif-plug-type ${pluggedType(orphan)}, which this agent does not serve (--types); left alone`);
    }
    const removeAnswers = step2.removals.length > 0 ? await link.prepareRemoves(step2.removals) : new Map();
    const plan = planChange({
      wants: desired.wants,
      blocked: step1.blocked,
      invalid: desired.invalid,
      actual,
      answers,
      removals: step2.removals,
      removeAnswers,
      maintained: link.maintained(),
    });
    if (plan.release.length > 0) await link.release(plan.release);

    const committed = await this.commit(plan, bridge.uuid);
    if (committed) {
      await link.finish(plan.finishCreates, true);
      await link.finish(plan.finishRemoves, false);
      for (const { want, answer } of plan.creates) logger.info({ lport: want.lport, iface: answer.name, type: want.type }, `plugged ${answer.name} for lport ${want.lport}`);
      for (const d of plan.deletes) logger.info({ lport: d.lport, iface: d.iface.name, cause: d.cause }, `unplugged ${d.iface.name} (lport ${d.lport}: ${d.cause})`);
      for (const u of plan.updates) logger.debug({ lport: u.want.lport, iface: u.iface.name }, `updated ${u.iface.name}`);
    } else {
      await link.release([...plan.finishCreates, ...plan.finishRemoves]);
    }
    this.record(plan, desired, actual, committed, scope);
  }

  /** Commits the plan's change; false when it did not commit (retried). */
  private async commit(plan: Plan, bridgeUuid: string): Promise<boolean> {
    if (plan.creates.length + plan.updates.length + plan.deletes.length === 0) return true;
    try {
      this.options.logger.debug({ plug: plan.creates.length, update: plan.updates.length, unplug: plan.deletes.length }, 'committing a bridge change');
      await this.ovs.transact(bridgeOperations(plan, bridgeUuid), { timeoutMs: 30_000 });
      return true;
    } catch (err) {
      this.options.logger.warn({ err: String(err) }, 'the bridge change did not commit; retrying on fresh data');
      return false;
    }
  }

  private record(plan: Plan, desired: Desired, actual: Actual, committed: boolean, scope: ReadonlySet<string> | undefined): void {
    const { logger } = this.options;
    const touched = new Set([...plan.creates.map((c) => c.want.lport), ...plan.deletes.map((d) => d.lport), ...plan.updates.map((u) => u.want.lport)]);
    for (const [lport, { type, problem }] of plan.problems) {
      const { entry, changed } = this.pending.record(lport, type, problem);
      if (changed) logger.info({ lport, type, reason: entry.reason }, `lport ${lport} pending: ${entry.message}`);
    }
    if (!committed) {
      for (const lport of touched) {
        const type = desired.wants.get(lport)?.type ?? plan.deletes.find((d) => d.lport === lport)?.type ?? '';
        this.pending.record(lport, type, { reason: 'OVSDB_COMMIT_FAILED', message: 'the change to the local OVSDB did not commit; retrying', retryable: true });
      }
      this.retryIn(500);
      return;
    }
    for (const lport of plan.plugged.keys()) {
      if (!plan.problems.has(lport) && this.pending.clear(lport)) logger.info({ lport }, `lport ${lport} is plugged (${plan.plugged.get(lport)})`);
    }
    for (const d of plan.deletes) if (!plan.problems.has(d.lport)) this.pending.clear(d.lport);
    this.pending.retain(
      (lport) => (scope !== undefined && !scope.has(lport)) || desired.wants.has(lport) || desired.invalid.has(lport) || (actual.ours.get(lport)?.some(isOurs) ?? false),
    );
  }

  private armRetry(): void {
    if (this.stopped) return;
    const at = this.pending.nextRetryAt();
    if (at === Infinity) return;
    this.retryIn(Math.max(0, at - this.now()));
  }

  private retryIn(ms: number): void {
    if (this.stopped) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const due = this.pending.due();
      this.request(due.length > 0 ? due : 'all');
    }, ms);
    this.retryTimer.unref();
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(message);
  }
}

