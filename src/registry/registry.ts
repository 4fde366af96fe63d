/**
 * The Registry: the seed's framework as one object (register, open, close,
 * run, prepare, finish, destroy, list), composed of the class table, the port
 * cycle and the instance gate, announcing what changed on its change feed.
 * No gRPC and no I/O: every edge (the gRPC server, a test) drives it alike.
 */

import { ChangeFeed } from './change-feed';
import { ClassTable, providerExists, providerNotFound, type ClassEntry, type Instance, type ProviderKind } from './class-table';
import { PlugError, isPlugError } from './errors';
import { InstanceGate, type CallerContext, type GateLimits, type ProviderFault } from './instance-gate';
import { PortCycle, type PortCycleLimits, type PrepareAnswer } from './port-cycle';
import { SERVING, type CardListing, type FunctionIdentity, type PortCtxIn, type ProviderClass, type ProviderContext, type ProviderFactory, type ProviderHealth, type RemoteConnector, type RemoteProviderClass, type Representor } from './provider';

/** A registered class as callers see it. */
export interface ProviderInfo {
  readonly type: string;
  readonly kind: ProviderKind;
  readonly maintainedIfaceOptions: readonly string[];
  readonly open: boolean;
  /** The open instance's id, '' when not open. */
  readonly instanceId: string;
  /** Where a remote provider serves; '' for a built-in class. */
  readonly endpoint: string;
  readonly health: ProviderHealth;
  /** The class announces that it lists the hardware ports it can plug (ListRepresentors). */
  readonly listsRepresentors: boolean;
  /** The class identifies this host's hardware: its VFs and cards (Identify, ListCards). */
  readonly identifies: boolean;
}

export interface OpenedInstance {
  readonly instanceId: string;
  readonly type: string;
  readonly maintainedIfaceOptions: readonly string[];
}

export interface RegistryOptions {
  /** Built-in classes that Register accepts by type. */
  readonly builtins: ReadonlyMap<string, ProviderFactory>;
  /** Makes the classes of remote providers; without it Register with an endpoint is UNIMPLEMENTED. */
  readonly remote?: RemoteConnector;
  /** Told about provider failures that cannot be answered to a caller. */
  readonly onFault?: (fault: ProviderFault) => void;
  readonly limits?: Partial<RegistryLimits>;
}

/** Bounds that keep a misbehaving caller or provider from exhausting the daemon. */
export interface RegistryLimits extends PortCycleLimits, GateLimits {}

export const DEFAULT_LIMITS: RegistryLimits = {
  maxCtxs: 100_000,
  ctxTtlMs: 300_000,
  maxCallsPerInstance: 1024,
  providerTimeoutMs: 10_000,
};

/** Counts for health checks, metrics and invariant tests. */
export interface RegistryStats {
  readonly classes: number;
  readonly instances: number;
  readonly ctxs: number;
  /** Provider calls under way. */
  readonly inflight: number;
  /** Ctxs reaped for outliving the ctx TTL, since start. */
  readonly reapedCtxs: number;
}

/**
 * The provider registry: the seed's plug_register_provider / unregister /
 * plug_open / plug_close / plug_run_instances / prepare / finish / ctx_destroy
 * and destroy_all. It composes three parts along OVN's own seam: the class
 * table (classes and their instance), the port cycle (ctxs and their
 * reaper) and the instance gate every provider callback passes.
 */
export class Registry {
  private readonly gate: InstanceGate;
  private readonly table = new ClassTable();
  private readonly ports: PortCycle<Instance>;
  /** What changed, for watchers (the Watch RPC). */
  readonly changes = new ChangeFeed();

  constructor(private readonly options: RegistryOptions) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.gate = new InstanceGate(limits, options.onFault);
    this.ports = new PortCycle(this.gate, limits);
  }

  builtinTypes(): string[] {
    return [...this.options.builtins.keys()].sort();
  }

  stats(): RegistryStats {
    return {
      classes: this.table.classCount,
      instances: this.table.instanceCount,
      ctxs: this.ports.size,
      inflight: this.gate.inflight,
      reapedCtxs: this.ports.reaped,
    };
  }

  /** Throws INSTANCE_NOT_FOUND unless `instanceId` names an open instance that takes new calls. */
  assertOpen(instanceId: string): void {
    this.table.instance(instanceId);
  }

  list(): ProviderInfo[] {
    return this.table.entries().map(info);
  }

  /** Registers the built-in class `type`; its init must succeed. */
  register(type: string): Promise<ProviderInfo> {
    return this.table.exclusive(type, async () => {
      if (this.table.entry(type) !== undefined) throw providerExists(type);
      const factory = this.options.builtins.get(type);
      if (factory === undefined) {
        const builtins = this.builtinTypes();
        throw new PlugError(
          'NOT_FOUND',
          'BUILTIN_NOT_FOUND',
          `no built-in provider of type "${type}"; built-in types: ${builtins.join(', ') || '(none)'}`,
          { metadata: { type, builtins: builtins.join(',') } },
        );
      }
      const entry = await this.table.add(type, factory(), 'builtin');
      this.changes.publish('provider-registered', type);
      return info(entry);
    });
  }

  /**
   * Registers the remote provider serving `type` at `endpoint`. The same
   * type at the same endpoint again is the provider saying it is back: it is
   * probed at once, and the answer is its info or why it is not usable.
   */
  registerRemote(type: string, endpoint: string): Promise<ProviderInfo> {
    const connect = this.options.remote;
    if (connect === undefined) {
      return Promise.reject(
        new PlugError('UNIMPLEMENTED', 'REMOTE_PROVIDER_UNSUPPORTED', 'this registry takes no out-of-process providers; leave endpoint empty to register a built-in type', {
          metadata: { type },
        }),
      );
    }
    return this.table.exclusive(type, async () => {
      const existing = this.table.entry(type);
      if (existing !== undefined) {
        const remote = existing.kind === 'remote' ? (existing.cls as RemoteProviderClass) : undefined;
        if (remote?.endpoint !== endpoint) throw providerExists(type, remote?.endpoint);
        await remote.recheck();
        return info(existing);
      }
      const entry = await this.table.add(type, connect(type, endpoint), 'remote');
      this.changes.publish('provider-registered', type);
      return info(entry);
    });
  }

  /** Unregisters `type`; refused while an instance is open. */
  async unregister(type: string): Promise<void> {
    await this.table.unregister(type);
    this.changes.publish('provider-unregistered', type);
  }

  /** Returns the instance of `type`, opening it on first use. */
  async open(type: string): Promise<OpenedInstance> {
    // Until the instance is in the table (and after it left) there is
    // nothing to announce: the instance-opened change covers its start.
    let announced: Instance | undefined;
    const context = (instanceId: string): ProviderContext => ({ instanceId, viewChanged: () => this.viewChanged(announced) });
    const instance = await this.table.open(type, context, (created) => {
      announced = created;
      this.changes.publish('instance-opened', type, created.id);
    });
    return opened(instance);
  }

  /**
   * Closes an instance: waits for its calls in flight, destroys the ctxs it
   * still holds, then closes it. Provider failures on the way are reported as
   * faults; the instance is gone either way.
   */
  async close(instanceId: string): Promise<void> {
    let type = '';
    await this.table.close(
      instanceId,
      async (instance) => {
        type = instance.type;
        await this.gate.drained(instance);
        await this.ports.releaseOwnedBy(instance);
      },
      (type, operation, fn) => this.gate.quietly(type, operation, fn),
    );
    this.changes.publish('instance-closed', type, instanceId);
  }

  /**
   * Runs one instance, or every open one; true if any changed something. A
   * remote provider that is down does not fail the run of all: it shows
   * down in ListProviders, and its first run once back answers changed.
   */
  async run(instanceId = ''): Promise<boolean> {
    if (instanceId !== '') return this.runOne(this.table.instance(instanceId));
    const results = await Promise.allSettled(this.table.openInstances().map((instance) => this.runOne(instance)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(isPlugError(r.reason) && r.reason.reason === 'PROVIDER_UNAVAILABLE'));
    if (failed !== undefined) throw failed.reason;
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  /** Asks the instance's provider about a port; a positive answer creates a ctx. */
  preparePort(instanceId: string, ctxIn: PortCtxIn, caller?: CallerContext): Promise<PrepareAnswer> {
    let instance: Instance;
    try {
      instance = this.table.instance(instanceId);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ports.prepare(instance, ctxIn, caller);
  }

  /** The caller committed the change of `ctxId`; a remove ctx is released. */
  finishPort(ctxId: string): Promise<void> {
    return this.ports.finish(ctxId);
  }

  /** Releases `ctxId`; unknown ids are fine (idempotent). */
  destroyCtx(ctxId: string): Promise<void> {
    return this.ports.destroy(ctxId);
  }

  /** Removes ctxs older than the TTL and releases what their providers hold. */
  reapExpired(): number {
    return this.ports.reapExpired();
  }

  /**
   * The hardware ports class `type` can plug, through the gate like every
   * provider call: bounded by the provider timeout and the caller's
   * deadline, counted in flight, and shed beyond maxCallsPerInstance
   * listings at once, on a slot of the class's own (listing never takes a
   * port call's slot).
   */
  listRepresentors(type: string, caller?: CallerContext): Promise<readonly Representor[]> {
    const entry = this.table.entry(type);
    if (entry === undefined) return Promise.reject(providerNotFound(type));
    const list = entry.cls.listRepresentors?.bind(entry.cls);
    if (list === undefined || !listsRepresentors(entry.cls)) {
      return Promise.reject(
        new PlugError('UNIMPLEMENTED', 'LISTING_UNSUPPORTED', `provider "${type}" plugs no hardware ports and has nothing to list`, { metadata: { type } }),
      );
    }
    return this.gate.call(entry.calls, 'listRepresentors', (budget) => list(budget), caller);
  }

  /** What class `type` knows of one of this host's VFs (Identify), through the gate as listRepresentors. */
  identify(type: string, vfPciAddress: string, caller?: CallerContext): Promise<FunctionIdentity> {
    const entry = this.table.entry(type);
    if (entry === undefined) return Promise.reject(providerNotFound(type));
    const identify = entry.cls.identify?.bind(entry.cls);
    if (identify === undefined) return Promise.reject(identifyUnsupported(type));
    return this.gate.call(entry.calls, 'readHardware', (budget) => identify(vfPciAddress, budget), caller);
  }

  /** The cards class `type` sees (ListCards), through the gate as listRepresentors. */
  listCards(type: string, caller?: CallerContext): Promise<CardListing> {
    const entry = this.table.entry(type);
    if (entry === undefined) return Promise.reject(providerNotFound(type));
    const list = entry.cls.listCards?.bind(entry.cls);
    if (list === undefined) return Promise.reject(identifyUnsupported(type));
    return this.gate.call(entry.calls, 'readHardware', (budget) => list(budget), caller);
  }

  /** Closes every instance and unregisters every class (shutdown). */
  async destroyAll(): Promise<void> {
    this.ports.stop();
    for (const instance of this.table.openInstances()) {
      await this.close(instance.id).catch((error: unknown) => this.gate.fault(instance.type, 'close', error));
    }
    for (const { type } of this.table.entries()) {
      await this.unregister(type).catch((error: unknown) => this.gate.fault(type, 'unregister', error));
    }
  }

  private async runOne(instance: Instance): Promise<boolean> {
    const changed = (await this.gate.call(instance, 'run', (budget) => instance.impl.run?.(budget))) === true;
    if (changed) this.viewChanged(instance);
    return changed;
  }

  private viewChanged(instance: Instance | undefined): void {
    if (instance !== undefined && this.table.openInstances().includes(instance)) this.changes.publish('view-changed', instance.type, instance.id);
  }
}

function info(entry: ClassEntry): ProviderInfo {
  return {
    type: entry.type,
    kind: entry.kind,
    maintainedIfaceOptions: entry.cls.maintainedIfaceOptions,
    open: entry.instance !== undefined,
    instanceId: entry.instance?.id ?? '',
    endpoint: entry.kind === 'remote' ? (entry.cls as RemoteProviderClass).endpoint : '',
    health: entry.cls.health?.() ?? SERVING,
    listsRepresentors: listsRepresentors(entry.cls),
    identifies: entry.cls.identify !== undefined && entry.cls.listCards !== undefined,
  };
}

function identifyUnsupported(type: string): PlugError {
  return new PlugError('UNIMPLEMENTED', 'IDENTIFY_UNSUPPORTED', `provider "${type}" reads no hardware and identifies no VFs or cards`, { metadata: { type } });
}

function listsRepresentors(cls: ProviderClass): boolean {
  return cls.listRepresentors !== undefined && cls.listsRepresentors !== false;
}

function opened(instance: Instance): OpenedInstance {
  return {
    instanceId: instance.id,
    type: instance.type,
    maintainedIfaceOptions: instance.entry.cls.maintainedIfaceOptions,
  };
}
