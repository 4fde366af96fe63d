/**
 * The vifplug-ovn agent: turns a stock OVN chassis into one that plugs
 * ports through vifplugd. It reads its identity where ovn-controller does
 * (the local Open_vSwitch record) and follows it while it runs, replicates
 * the Southbound Port_Bindings requested to this chassis (southbound.ts)
 * and the local bridges, and reconciles them level-triggered through the pure core
 * (desired.ts, plan.ts), asking vifplugd's providers in batches.
 *
 * A pass runs whenever something it depends on changed: a Port_Binding or
 * an interface (only those lports), a replica loaded afresh after a
 * (re)connection, the chassis configuration, a Watch event from vifplugd (a
 * provider's view changed: hardware appeared), or a pending lport's retry
 * time. Passes never overlap; what arrives during one is merged into the
 * next.
 *
 * Recovery needs no state file: the agent's interfaces carry its marker, so
 * after a restart (of the agent, of vifplugd, of an OVSDB server) the next
 * pass over fresh replicas finds them and carries on. Until both replicas
 * are complete (the Southbound one with this chassis's condition
 * acknowledged), nothing is unplugged for being absent: ovn-controller's
 * start-up grace, made exact. The same holds after the chassis identity
 * changed, until the Southbound DB acknowledged the new one.
 *
 * In repair mode (--repair) the same pass also looks at the ports
 * ovn-controller plugs itself and removes those it left wrong (repair.ts),
 * in a transaction of their own (repair-change.ts).
 */

import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';

import { SerialRunner } from '../common/serial-runner';
import { OvsdbClient, type TlsFiles, type UpdateEvent } from '../ovsdb';
import { bridgeOperations } from './bridge-change';
import { desiredPorts, type Desired } from './desired';
import { IgnoredLog, ignoredPorts, type IgnoredLport } from './ignored';
import { PendingTable, type BackoffOptions, type PendingEntry } from './pending';
import { PendingLog } from './pending-log';
import { isOurs, planChange, pluggedType, sortBridge, toPrepare, toRemove, type Actual, type Plan } from './plan';
import { EMPTY_REPAIR_STATE, nextRepairCheck, ovnPluggedPorts, planRepairs, recordRemoved, repairChecks, type RepairRemoval, type RepairState } from './repair';
import { repairOperations } from './repair-change';
import { RepairLog, type RepairStatus } from './repair-log';
import { Southbound } from './southbound';
import type { VifplugdLink } from './vifplugd-link';
import { OVS_TABLES, chassisIdentity, localConfig, lportsOfIfaceRows, ovsInterfaces, toBinding, usesDpdk, type LocalConfig } from './views';
import type { Binding, BridgeIface, ChassisIdentity, CreateAnswer } from './model';

export interface AgentOptions {
  readonly link: VifplugdLink;
  /** --types: the vif-plug-types the agent plugs. */
  readonly types: readonly string[];
  /** --repair: the vif-plug-types ovn-controller plugs, whose ports the agent repairs (never one of `types`). */
  readonly repair?: readonly string[];
  /** --plug-additional: plug on an additional requested chassis too (a live migration's destination). */
  readonly plugAdditional?: boolean;
  /** How long a verdict holds before repair removes the port (repair.ts; default 2 s). */
  readonly repairSettleMs?: number;
  /** The local Open_vSwitch database, OVS syntax. */
  readonly ovsDb: string;
  /** The Southbound DB; undefined: external_ids:ovn-remote, followed as ovn-controller does. */
  readonly sbDb: string | undefined;
  /** Key, certificate and CA for ssl: remotes. */
  readonly tls?: TlsFiles;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  readonly now?: () => number;
  /** Told about every reconcile pass that ran (metrics). */
  readonly onPass?: (report: PassReport) => void;
  /** Told about every repair that committed (metrics). */
  readonly onRepair?: (removal: RepairRemoval) => void;
}

/** One reconcile pass, for metrics. */
export interface PassReport {
  readonly seconds: number;
  /** committed: the bridge changed; unchanged: nothing to change; commit-failed: retried; error: a bug, retried. */
  readonly outcome: 'committed' | 'unchanged' | 'commit-failed' | 'error';
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

/** Why the agent as a whole cannot plug (or unplug) right now. */
export interface AgentCondition {
  /**
   * CHASSIS_NOT_CONFIGURED, SB_REMOTE_NOT_CONFIGURED, SB_REMOTE_INVALID,
   * OVS_UNREACHABLE, SB_UNREACHABLE, SB_VIEW_INCOMPLETE,
   * CHASSIS_NOT_REGISTERED, BRIDGE_MISSING.
   */
  readonly reason: string;
  readonly message: string;
}

export interface AgentStatus {
  /** '' while external_ids:system-id is not set. */
  readonly chassis: string;
  readonly bridge: string;
  readonly types: readonly string[];
  readonly connected: { readonly ovs: boolean; readonly sb: boolean };
  /** The remote each database is read from now (a clustered DB's member), '' when not connected. */
  readonly remotes: { readonly ovs: string; readonly sb: string };
  /** Whether the agent may unplug (both views complete). */
  readonly complete: boolean;
  /** Empty when the agent plugs and unplugs as asked; otherwise why not, most basic first. */
  readonly waiting: readonly AgentCondition[];
  readonly lports: readonly LportStatus[];
  /**
   * Lports requested to this chassis whose vif-plug-type this agent does not
   * serve: neither pending nor plugged (ovn-controller's, or a typo).
   */
  readonly ignored: readonly IgnoredLport[];
  /** Repair mode: what it repaired lately and what it holds back (types empty when off). */
  readonly repair: RepairStatus;
}

export class Agent {
  private readonly served: ReadonlySet<string>;
  private readonly pending: PendingTable;
  private readonly now: () => number;
  private readonly ovs: OvsdbClient;
  private readonly sb: Southbound;
  /** The identity and bridge in effect; undefined while the chassis is not configured. */
  private local: LocalConfig | undefined;
  /** The Southbound remotes in effect; undefined while there are none. */
  private sbRemotes: string | undefined;
  /** What is missing from the chassis configuration, if anything. */
  private configProblem: AgentCondition | undefined;
  private bridgeMissing: string | undefined;
  private dirty: Set<string> | 'all' | undefined;
  /** The reconcile passes: one at a time, one more for what was asked during a pass. */
  private readonly passes: SerialRunner;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly warned = new Set<string>();
  private last: { desired: Desired; actual: Actual } | undefined;
  private ignored: readonly IgnoredLport[] = [];
  private readonly ignoredLog: IgnoredLog;
  private readonly pendingLog: PendingLog;
  private readonly repairTypes: ReadonlySet<string>;
  private repairState: RepairState = EMPTY_REPAIR_STATE;
  private readonly repairLog: RepairLog;
  /** ovn-controller's ports of the repaired types, as the last pass saw them (Watch nudges by type). */
  private lastRepairPorts: ReadonlyMap<string, readonly BridgeIface[]> = new Map();
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AgentOptions) {
    this.served = new Set(options.types);
    this.now = options.now ?? (() => Date.now());
    this.pending = new PendingTable(this.now, options.backoff);
    this.passes = new SerialRunner(() => this.drain(), {
      // Let the event that asked for a pass be followed by the others of the same burst.
      settle: () => new Promise((resolve) => setImmediate(resolve)),
      onIdle: () => this.armRetry(),
    });
    this.ignoredLog = new IgnoredLog(options.logger, options.types);
    this.pendingLog = new PendingLog(options.logger);
    this.repairTypes = new Set(options.repair ?? []);
    this.repairLog = new RepairLog(options.repair ?? [], this.now);
    this.ovs = new OvsdbClient({ database: 'Open_vSwitch', remotes: options.ovsDb, tables: OVS_TABLES, logger: options.logger, tls: options.tls });
    this.sb = new Southbound({ logger: options.logger, tls: options.tls, onChange: (scope) => this.request(scope) });
  }

  /** Connects everything and starts reconciling; what is not there yet (OVS, the chassis configuration) is waited for. */
  async start(): Promise<void> {
    const { logger, sbDb, ovsDb, types } = this.options;
    logger.info({ types, ovs: ovsDb, sb: sbDb ?? 'external_ids:ovn-remote' }, 'vifplug-ovn starting');
    this.ovs.on('resync', () => {
      this.followLocalConfig();
      this.request('all');
    });
    this.ovs.on('update', (e) => this.onOvsUpdate(e));
    this.ovs.start();
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
    if (this.repairTimer !== undefined) clearTimeout(this.repairTimer);
    await this.options.link.stop();
    await this.passes.stop();
    await Promise.all([this.ovs.close(), this.sb.close()]);
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
      connected: { ovs: this.ovs.isSynced, sb: this.sb.synced },
      remotes: { ovs: (this.ovs.isSynced && this.ovs.remote) || '', sb: this.sb.remote },
      complete: this.viewComplete(),
      waiting: this.waiting(),
      lports,
      ignored: this.ignored,
      repair: this.repairLog.status(),
    };
  }

  /** The lports pending, by reason (metrics). */
  pendingByReason(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.pending.list()) out.set(p.reason, (out.get(p.reason) ?? 0) + 1);
    return out;
  }

  private waiting(): AgentCondition[] {
    const out: AgentCondition[] = [];
    if (!this.ovs.isSynced) {
      const failure = this.ovs.lastFailure;
      out.push({
        reason: 'OVS_UNREACHABLE',
        message: `the local Open_vSwitch database (${this.options.ovsDb}) is not connected${failure === undefined ? '' : `: ${failure.reason}`}; ports stay as they are`,
      });
    }
    if (this.configProblem !== undefined) out.push(this.configProblem);
    const sb = this.sb.condition();
    if (sb !== undefined) out.push(sb);
    if (this.bridgeMissing !== undefined) {
      out.push({ reason: 'BRIDGE_MISSING', message: `the integration bridge ${this.bridgeMissing} does not exist (ovn-controller creates it); ports are plugged once it does` });
    }
    return out;
  }

  private viewComplete(): boolean {
    return this.ovs.isSynced && this.sb.isComplete;
  }

  /**
   * Reads the identity, the integration bridge and the Southbound remote
   * from the Open_vSwitch record, as ovn-controller does on every
   * iteration, and follows what changed:
   * - system-id or hostname: the Southbound monitor is conditioned on the new
   *   chassis; until the server acknowledged it nothing is unplugged, then
   *   the lports requested to the old identity are unplugged like lports
   *   moved to another chassis (ovn-controller releases them too);
   * - ovn-remote: the agent reconnects to the new Southbound DB;
   * - ovn-bridge: the next pass plugs into the new bridge and moves the
   *   agent's ports from the old one;
   * - system-id or ovn-remote removed: the agent stops plugging and
   *   unplugging (ports stay) until they are set again.
   */
  private followLocalConfig(): void {
    const { logger } = this.options;
    const row = this.ovs.rows('Open_vSwitch').values().next().value;
    const next = row === undefined ? undefined : localConfig(row);
    const prev = this.local;
    const prevRemotes = this.sbRemotes;
    if (next === undefined || next.systemId === '') {
      this.configProblem = {
        reason: 'CHASSIS_NOT_CONFIGURED',
        message: 'external_ids:system-id is not set in the local Open_vSwitch record (ovn-controller needs it too: ovs-vsctl set open . external_ids:system-id=NAME); nothing is plugged or unplugged until it is',
      };
      if (prev !== undefined) logger.warn({ chassis: prev.systemId }, 'external_ids:system-id was removed; plugging stops (ports stay) until it is set again');
      else this.warnOnce('unconfigured', 'waiting for external_ids:system-id in the local Open_vSwitch record');
      this.local = undefined;
      this.sbRemotes = undefined;
      this.sb.follow(undefined, undefined);
      return;
    }
    this.local = next;
    if (prev === undefined) {
      logger.info({ chassis: next.systemId, hostname: next.hostname, bridge: next.bridge }, `chassis ${next.systemId}, integration bridge ${next.bridge}`);
    } else {
      if (prev.systemId !== next.systemId || prev.hostname !== next.hostname) {
        logger.warn(
          { from: { chassis: prev.systemId, hostname: prev.hostname }, to: { chassis: next.systemId, hostname: next.hostname } },
          `chassis identity changed from ${prev.systemId} (${prev.hostname}) to ${next.systemId} (${next.hostname}); following it`,
        );
      }
      if (prev.bridge !== next.bridge) logger.warn({ from: prev.bridge, to: next.bridge }, `integration bridge changed from ${prev.bridge} to ${next.bridge}; moving the agent's ports`);
    }
    const remotes = this.options.sbDb ?? next.ovnRemote;
    this.sbRemotes = remotes === '' ? undefined : remotes;
    if (this.sbRemotes === undefined) {
      this.configProblem = {
        reason: 'SB_REMOTE_NOT_CONFIGURED',
        message: 'no Southbound DB: set external_ids:ovn-remote in the local Open_vSwitch record (as ovn-controller needs) or give --ovn-sb-db',
      };
      if (prevRemotes !== undefined) logger.warn('external_ids:ovn-remote was removed; disconnected from the Southbound DB until it is set again');
      else this.warnOnce('no-remote', 'waiting for external_ids:ovn-remote in the local Open_vSwitch record');
    } else {
      this.configProblem = undefined;
      if (prevRemotes !== undefined && prevRemotes !== remotes) logger.warn({ from: prevRemotes, to: remotes }, `the Southbound DB changed from ${prevRemotes} to ${remotes}; reconnecting`);
    }
    this.sb.follow(this.sbRemotes, next);
  }

  private onOvsUpdate({ changes }: UpdateEvent): void {
    if (changes.has('Open_vSwitch')) this.followLocalConfig();
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
    // Repair mode asks the provider of the lport's type; a new answer may prove a port wrong.
    if (this.repairTypes.has(type)) out.push(...this.lastRepairPorts.keys());
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
    if (this.dirty !== undefined) void this.passes.request();
  }

  /** One pass over what was asked since the last one (run by `passes`; the retry timer is armed when they are idle). */
  private async drain(): Promise<void> {
    const scope = this.dirty;
    if (scope === undefined || this.stopped) return;
    this.dirty = undefined;
    const t0 = performance.now();
    try {
      const outcome = await this.pass(scope === 'all' ? undefined : scope);
      if (outcome !== undefined) this.options.onPass?.({ seconds: (performance.now() - t0) / 1000, outcome });
    } catch (err) {
      this.options.onPass?.({ seconds: (performance.now() - t0) / 1000, outcome: 'error' });
      this.options.logger.error({ err }, 'a reconcile pass failed (a bug in vifplug-ovn); retrying');
      this.retryIn(1000);
    }
  }

  /** One reconcile pass over `scope` (every lport when undefined); undefined when it could not run. */
  private async pass(scope: ReadonlySet<string> | undefined): Promise<PassReport['outcome'] | undefined> {
    const sb = this.sb;
    const local = this.local;
    if (local === undefined || !this.ovs.isSynced || !sb.synced) return undefined;
    const { link, logger } = this.options;
    const chassis = chassisIdentity(local, sb.rows('Chassis'));
    const bindings = [...sb.rows('Port_Binding').values()].map(toBinding);
    const desired = desiredPorts(bindings, chassis, this.served, { plugAdditional: this.options.plugAdditional });
    // Types under repair are ovn-controller's to plug and this agent's to watch: not "ignored".
    this.ignored = ignoredPorts(bindings, chassis, new Set([...this.served, ...this.repairTypes]));
    this.ignoredLog.update(this.ignored);
    const { bridge, ifaces } = ovsInterfaces({ bridges: this.ovs.rows('Bridge'), ports: this.ovs.rows('Port'), ifaces: this.ovs.rows('Interface') }, local.bridge);
    if (bridge === undefined) {
      if (this.bridgeMissing !== local.bridge) logger.warn(`the integration bridge ${local.bridge} does not exist yet (ovn-controller creates it); waiting`);
      this.bridgeMissing = local.bridge;
      return undefined;
    }
    this.bridgeMissing = undefined;
    const actual = sortBridge(ifaces, bridge.uuid);
    const useDpdk = usesDpdk(bridge);
    this.last = { desired, actual };
    this.noteDuplicates(actual);

    const step1 = toPrepare(desired.wants, actual, this.served, scope);
    const answers = step1.creates.length > 0 ? await link.prepareCreates(step1.creates, useDpdk) : new Map();
    const canUnplug = this.viewComplete();
    const step2 = toRemove({ wants: desired.wants, invalid: desired.invalid, kept: desired.kept, actual, answers, served: this.served, canUnplug, scope });
    for (const orphan of step2.orphans) {
      this.warnOnce(`orphan:${orphan.ifaceUuid}`, `interface ${orphan.name} was plugged by vifplug-ovn for vif-plug-type ${pluggedType(orphan)}, which this agent does not serve (--types); left alone`);
    }
    const removeAnswers = step2.removals.length > 0 ? await link.prepareRemoves(step2.removals, useDpdk) : new Map();
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

    const changes = plan.creates.length + plan.updates.length + plan.deletes.length;
    const committed = await this.commit(plan, bridge.uuid);
    if (committed) {
      await link.finish(plan.finishCreates, true);
      await link.finish(plan.finishRemoves, false);
      for (const { want, answer } of plan.creates) logger.info({ lport: want.lport, iface: answer.name, type: want.type }, `plugged ${answer.name} for lport ${want.lport}`);
      for (const d of plan.deletes) logger.info({ lport: d.lport, iface: d.iface.name, bridge: d.iface.bridgeName, cause: d.cause }, `unplugged ${d.iface.name} (lport ${d.lport}: ${d.cause})`);
      for (const u of plan.updates) logger.debug({ lport: u.want.lport, iface: u.iface.name }, `updated ${u.iface.name}`);
    } else {
      await link.release([...plan.finishCreates, ...plan.finishRemoves]);
    }
    this.record(plan, desired, actual, committed, scope);
    const repaired = this.repairTypes.size === 0 ? 0 : await this.repair({ bindings, chassis, ifaces, bridgeUuid: bridge.uuid, useDpdk, canRemove: canUnplug, scope });
    if (!committed || repaired === undefined) return 'commit-failed';
    return changes + repaired > 0 ? 'committed' : 'unchanged';
  }

  /**
   * Repair mode's part of a pass (repair.ts): asks vifplugd's providers about
   * ovn-controller's ports on their lport's main chassis (each ctx released
   * at once: nothing is plugged by the agent), removes those that are wrong
   * in one transaction, and logs, counts and records each. Returns how many
   * were removed; undefined when the transaction did not commit (retried).
   */
  private async repair(view: {
    bindings: readonly Binding[];
    chassis: ChassisIdentity;
    ifaces: readonly BridgeIface[];
    bridgeUuid: string;
    useDpdk: boolean;
    canRemove: boolean;
    scope: ReadonlySet<string> | undefined;
  }): Promise<number | undefined> {
    const { link, logger } = this.options;
    const ports = ovnPluggedPorts(view.ifaces, view.bridgeUuid, this.repairTypes);
    this.lastRepairPorts = ports;
    const common = { bindings: new Map(view.bindings.map((b) => [b.lport, b])), chassis: view.chassis, repairTypes: this.repairTypes, served: this.served, ports, scope: view.scope };
    // Nothing is judged on an incomplete view: no need to ask.
    const checks = view.canRemove ? repairChecks(common) : [];
    const answers = checks.length > 0 ? await link.prepareCreates(checks, view.useDpdk) : new Map<string, CreateAnswer>();
    // Asked only to compare: never finished, released at once.
    const ctxs = [...answers.values()].flatMap((a) => (a.kind === 'plug' ? [a.ctxId] : []));
    if (ctxs.length > 0) await link.release(ctxs);
    for (const [lport, a] of answers) {
      if (a.kind === 'plug') logger.debug({ lport, answer: a.name }, `checked ovn-controller's port for lport ${lport}: the provider answers ${a.name}`);
      else logger.debug({ lport, reason: a.reason }, `cannot check ovn-controller's port for lport ${lport}, left as it is: ${a.reason}: ${a.message}`);
    }
    const plan = planRepairs({ ...common, answers, canRemove: view.canRemove, state: this.repairState, now: this.now(), settleMs: this.options.repairSettleMs });
    this.repairState = plan.state;
    for (const h of plan.held) this.warnOnce(`held:${h.lport}:${h.iface}`, `not repairing interface ${h.iface} (lport ${h.lport}): ${h.message}`);
    if (view.canRemove) this.repairLog.setHeld(plan.held, view.scope);
    if (plan.removals.length === 0) {
      this.armRepairCheck(view.canRemove);
      return 0;
    }
    try {
      logger.debug({ repair: plan.removals.length }, "committing a repair of ovn-controller's ports");
      await this.ovs.transact(repairOperations(plan.removals), { timeoutMs: 30_000 });
    } catch (err) {
      // ovn-controller (or someone) changed a port meanwhile: judged again on the fresh replica.
      logger.debug({ err: String(err) }, 'the repair did not commit; judging again on fresh data');
      this.request(plan.removals.map((r) => r.lport));
      return undefined;
    }
    this.repairState = recordRemoved(this.repairState, plan.removals);
    this.armRepairCheck(view.canRemove);
    this.repairLog.repaired(plan.removals);
    for (const r of plan.removals) {
      logger.warn({ lport: r.lport, iface: r.iface.name, type: r.type, reason: r.reason }, `repaired lport ${r.lport}: removed ${r.iface.name} (${r.reason}): ${r.message}`);
      this.options.onRepair?.(r);
    }
    return plan.removals.length;
  }

  /**
   * A pass when the earliest suspect's verdict will have held long enough to
   * act on. Not while the view is incomplete: its completion runs a pass.
   */
  private armRepairCheck(canRemove: boolean): void {
    if (this.repairTimer !== undefined) clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
    const at = nextRepairCheck(this.repairState, this.options.repairSettleMs);
    if (this.stopped || !canRemove || at === Infinity) return;
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined;
      this.request([...this.repairState.suspects.values()].map((d) => d.lport));
    }, Math.max(0, at - this.now()));
    this.repairTimer.unref();
  }

  /** Warns once per set of the agent's interfaces that carry the same lport in the integration bridge. */
  private noteDuplicates(actual: Actual): void {
    for (const [lport, list] of actual.ours) {
      const here = list.filter((i) => !actual.elsewhere.has(i.ifaceUuid));
      if (here.length < 2) continue;
      const names = here.map((i) => i.name).join(', ');
      this.warnOnce(`duplicate:${lport}:${names}`, `${here.length} interfaces plugged by vifplug-ovn carry iface-id=${lport} (${names}); keeping the one its provider answers`);
    }
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
    const news = new Set<string>();
    for (const [lport, { type, problem }] of plan.problems) {
      if (this.pending.record(lport, type, problem).changed) news.add(lport);
    }
    if (!committed) {
      for (const lport of touched) {
        const type = desired.wants.get(lport)?.type ?? plan.deletes.find((d) => d.lport === lport)?.type ?? '';
        this.pending.record(lport, type, { reason: 'OVSDB_COMMIT_FAILED', message: 'the change to the local OVSDB did not commit; retrying', retryable: true });
      }
      this.pendingLog.update(this.pending.list(), news);
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
    this.pendingLog.update(this.pending.list(), news);
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
