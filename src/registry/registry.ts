import { CtxTable, type Ctx } from './ctx-table';
import { newId } from './ctx-id';
import { PlugError, describeError, isPlugError } from './errors';
import { KeyedQueue } from './keyed-queue';
import type {
  PortCtxIn,
  PortCtxOut,
  PrepareResult,
  ProviderClass,
  ProviderFactory,
  ProviderInstance,
  Representor,
} from './provider';

/** How a registered class is implemented. */
export type ProviderKind = 'builtin';

/** A registered class as callers see it. */
export interface ProviderInfo {
  readonly type: string;
  readonly kind: ProviderKind;
  readonly maintainedIfaceOptions: readonly string[];
  readonly open: boolean;
  /** The open instance's id, '' when not open. */
  readonly instanceId: string;
}

export interface OpenedInstance {
  readonly instanceId: string;
  readonly type: string;
  readonly maintainedIfaceOptions: readonly string[];
}

/** The registry's answer to PreparePort. */
export type PrepareAnswer =
  | { readonly plug: true; readonly ctxId: string; readonly out: PortCtxOut | undefined }
  | { readonly plug: false; readonly reason: string; readonly message: string };

/** A provider failure no caller can be told about (during Close or shutdown). */
export interface ProviderFault {
  readonly type: string;
  readonly operation: string;
  readonly error: unknown;
}

export interface RegistryOptions {
  /** Built-in classes that Register accepts by type. */
  readonly builtins: ReadonlyMap<string, ProviderFactory>;
  /** Told about provider failures that cannot be answered to a caller. */
  readonly onFault?: (fault: ProviderFault) => void;
  readonly limits?: Partial<RegistryLimits>;
}

/** Bounds that keep a misbehaving caller or provider from exhausting the daemon. */
export interface RegistryLimits {
  /** Live ctxs; PreparePort beyond it is RESOURCE_EXHAUSTED. */
  readonly maxCtxs: number;
  /** A ctx neither finished-and-destroyed nor destroyed this long after PreparePort is reaped; 0 never reaps. */
  readonly ctxTtlMs: number;
  /** Provider calls under way per instance beyond which PreparePort and Run are RESOURCE_EXHAUSTED (retry shortly); releases always go through. */
  readonly maxCallsPerInstance: number;
  /** How long a provider callback may take before its caller gets DEADLINE_EXCEEDED. */
  readonly providerTimeoutMs: number;
}

export const DEFAULT_LIMITS: RegistryLimits = {
  maxCtxs: 100_000,
  ctxTtlMs: 300_000,
  maxCallsPerInstance: 1024,
  providerTimeoutMs: 10_000,
};

/** What the edge knows about the caller of a call: its deadline and whether it gave up. */
export interface CallerContext {
  /** Milliseconds since the epoch; Infinity when the caller set none. */
  readonly deadline: number;
  isCancelled(): boolean;
}

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

interface ClassEntry {
  readonly cls: ProviderClass;
  readonly kind: ProviderKind;
  instance: Instance | undefined;
}

interface Instance {
  readonly id: string;
  readonly type: string;
  readonly entry: ClassEntry;
  readonly impl: ProviderInstance;
  /** Set by Close once it owns the instance: no new PreparePort may start. */
  closing: boolean;
  /** Provider calls under way on this instance. */
  inflight: number;
  /** Wakes a Close waiting for `inflight` to reach zero. */
  drained: (() => void) | undefined;
}

/**
 * The provider registry: the seed's plug_register_provider / unregister /
 * plug_open / plug_close / plug_run_instances / prepare / finish / ctx_destroy
 * and destroy_all, plus the ctx table that lets remote callers refer to a
 * prepared port by id.
 *
 * Calls interleave on the event loop and providers may await, so lifecycle
 * operations of one type run one at a time (KeyedQueue), an instance counts
 * the provider calls in flight so that Close waits for them, and every table
 * change happens in a single synchronous step after the provider answered.
 */
export class Registry {
  private readonly classes = new Map<string, ClassEntry>();
  private readonly instances = new Map<string, Instance>();
  private readonly ctxs = new CtxTable<Instance>();
  private readonly lifecycle = new KeyedQueue();
  private readonly limits: RegistryLimits;
  private readonly reaper: NodeJS.Timeout | undefined;
  private inflight = 0;
  private reaped = 0;

  constructor(private readonly options: RegistryOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    if (this.limits.ctxTtlMs > 0) {
      // Expiry is checked a few times per TTL, so a ctx lives at most ~1.25 TTL.
      const every = Math.min(Math.max(this.limits.ctxTtlMs / 4, 50), 60_000);
      this.reaper = setInterval(() => this.reapExpired(), every);
      this.reaper.unref();
    }
  }

  builtinTypes(): string[] {
    return [...this.options.builtins.keys()].sort();
  }

  stats(): RegistryStats {
    return {
      classes: this.classes.size,
      instances: this.instances.size,
      ctxs: this.ctxs.size,
      inflight: this.inflight,
      reapedCtxs: this.reaped,
    };
  }

  /** Throws INSTANCE_NOT_FOUND unless `instanceId` names an open instance that takes new calls. */
  assertOpen(instanceId: string): void {
    this.openInstance(instanceId);
  }

  list(): ProviderInfo[] {
    return [...this.classes.keys()].sort().map((type) => this.info(type, this.classes.get(type)!));
  }

  /** Registers the built-in class `type`; its init must succeed. */
  register(type: string): Promise<ProviderInfo> {
    return this.lifecycle.run(type, async () => {
      if (this.classes.has(type)) {
        throw new PlugError('ALREADY_EXISTS', 'PROVIDER_EXISTS', `provider type "${type}" is already registered`, {
          metadata: { type },
        });
      }
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
      const cls = factory();
      try {
        await cls.init?.();
      } catch (err) {
        throw new PlugError(
          'FAILED_PRECONDITION',
          'PROVIDER_INIT_FAILED',
          `provider "${type}" failed to initialize and was not registered: ${describeError(err)}`,
          { metadata: { type }, cause: err },
        );
      }
      const entry: ClassEntry = { cls, kind: 'builtin', instance: undefined };
      this.classes.set(type, entry);
      return this.info(type, entry);
    });
  }

  /** Unregisters `type`; refused while an instance is open. */
  unregister(type: string): Promise<void> {
    return this.lifecycle.run(type, async () => {
      const entry = this.classes.get(type);
      if (entry === undefined) throw providerNotFound(type);
      if (entry.instance !== undefined) {
        throw new PlugError(
          'FAILED_PRECONDITION',
          'PROVIDER_IN_USE',
          `provider "${type}" has an open instance (${entry.instance.id}); Close it before unregistering`,
          { metadata: { type, instance_id: entry.instance.id } },
        );
      }
      try {
        await entry.cls.destroy?.();
      } catch (err) {
        throw new PlugError(
          'FAILED_PRECONDITION',
          'PROVIDER_DESTROY_FAILED',
          `provider "${type}" failed to shut down and stays registered: ${describeError(err)}`,
          { metadata: { type }, cause: err },
        );
      }
      this.classes.delete(type);
    });
  }

  /** Returns the instance of `type`, opening it on first use. */
  open(type: string): Promise<OpenedInstance> {
    const current = this.classes.get(type)?.instance;
    if (current !== undefined && !current.closing) return Promise.resolve(opened(current));
    return this.lifecycle.run(type, async () => {
      const entry = this.classes.get(type);
      if (entry === undefined) throw providerNotFound(type);
      if (entry.instance !== undefined) return opened(entry.instance);
      let impl: ProviderInstance;
      try {
        impl = await entry.cls.open();
      } catch (err) {
        throw new PlugError(
          'FAILED_PRECONDITION',
          'PROVIDER_OPEN_FAILED',
          `provider "${type}" failed to open: ${describeError(err)}`,
          { metadata: { type }, cause: err },
        );
      }
      const instance: Instance = {
        id: newId(),
        type,
        entry,
        impl,
        closing: false,
        inflight: 0,
        drained: undefined,
      };
      entry.instance = instance;
      this.instances.set(instance.id, instance);
      return opened(instance);
    });
  }

  /**
   * Closes an instance: waits for its calls in flight, destroys the ctxs it
   * still holds, then closes it. Provider failures on the way are reported as
   * faults; the instance is gone either way.
   */
  close(instanceId: string): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined || instance.closing) return Promise.reject(instanceNotFound(instanceId));
    return this.lifecycle.run(instance.type, async () => {
      if (this.instances.get(instanceId) !== instance || instance.closing) throw instanceNotFound(instanceId);
      instance.closing = true;
      if (instance.inflight > 0) {
        await new Promise<void>((resolve) => {
          instance.drained = resolve;
        });
      }
      const owned = this.ctxs.ownedBy(instance);
      for (const ctx of owned) this.ctxs.remove(ctx);
      for (const ctx of owned) {
        if (ctx.ctxIn.opType !== 'create' || ctx.ctxOut === undefined) continue;
        await this.quietly(instance.type, 'destroyPortCtx', () => instance.impl.destroyPortCtx?.(ctx.ctxIn, ctx.ctxOut!));
      }
      await this.quietly(instance.type, 'close', () => instance.impl.close?.());
      this.instances.delete(instance.id);
      instance.entry.instance = undefined;
    });
  }

  /** Runs one instance, or every open one; true if any changed something. */
  async run(instanceId = ''): Promise<boolean> {
    if (instanceId !== '') return this.runOne(this.openInstance(instanceId));
    const results = await Promise.allSettled([...this.instances.values()].map((instance) => this.runOne(instance)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  /**
   * Asks the instance's provider about a port; a positive answer creates a
   * ctx. If the caller gave up meanwhile, whatever the provider prepared is
   * released instead of being left to the TTL.
   */
  preparePort(instanceId: string, ctxIn: PortCtxIn, caller?: CallerContext): Promise<PrepareAnswer> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined || instance.closing) return Promise.reject(instanceNotFound(instanceId));
    if (this.ctxs.size >= this.limits.maxCtxs) return Promise.reject(this.ctxLimit());
    return this.call(
      instance,
      'preparePort',
      () => {
        const result = instance.impl.preparePort(ctxIn);
        // Only an answer that took time can find its caller gone.
        return isThenable(result) ? result.then((r) => this.admit(instance, ctxIn, r, caller)) : this.admit(instance, ctxIn, result);
      },
      caller,
      (late) => {
        if (late.plug) void this.destroyCtx(late.ctxId).catch(() => undefined);
      },
    );
  }

  /** The caller committed the change of `ctxId`; a remove ctx is released. */
  finishPort(ctxId: string): Promise<void> {
    const ctx = this.ctxs.get(ctxId);
    if (ctx === undefined) {
      return Promise.reject(
        new PlugError(
          'NOT_FOUND',
          'CTX_NOT_FOUND',
          `no live ctx has id "${ctxId}": it was never created, was already released, or its instance was closed; prepare the port again`,
          { metadata: { ctx_id: ctxId } },
        ),
      );
    }
    if (ctx.finished) return Promise.resolve();
    if (ctx.finishing !== undefined) return ctx.finishing;
    const instance = ctx.owner;
    const finishing = this.call(instance, 'finishPort', () => instance.impl.finishPort?.(ctx.ctxIn, ctx.ctxOut)).then(
      () => {
        ctx.finished = true;
        ctx.finishing = undefined;
        if (ctx.ctxIn.opType === 'remove') this.ctxs.remove(ctx);
      },
      (err: unknown) => {
        ctx.finishing = undefined;
        throw err;
      },
    );
    ctx.finishing = finishing;
    return finishing;
  }

  /** Releases `ctxId`; unknown ids are fine (idempotent). */
  async destroyCtx(ctxId: string): Promise<void> {
    const ctx = this.ctxs.get(ctxId);
    if (ctx === undefined) return;
    this.ctxs.remove(ctx);
    await this.release(ctx);
  }

  /** The hardware ports class `type` can plug. */
  async listRepresentors(type: string): Promise<readonly Representor[]> {
    const entry = this.classes.get(type);
    if (entry === undefined) throw providerNotFound(type);
    if (entry.cls.listRepresentors === undefined) {
      throw new PlugError('UNIMPLEMENTED', 'LISTING_UNSUPPORTED', `provider "${type}" plugs no hardware ports and has nothing to list`, {
        metadata: { type },
      });
    }
    try {
      return await entry.cls.listRepresentors();
    } catch (err) {
      throw isPlugError(err) ? err : providerBug(type, 'listRepresentors', describeError(err), err);
    }
  }

  /** Closes every instance and unregisters every class (shutdown). */
  async destroyAll(): Promise<void> {
    if (this.reaper !== undefined) clearInterval(this.reaper);
    for (const instance of [...this.instances.values()]) {
      await this.close(instance.id).catch((error: unknown) => this.fault(instance.type, 'close', error));
    }
    for (const type of [...this.classes.keys()]) {
      await this.unregister(type).catch((error: unknown) => this.fault(type, 'unregister', error));
    }
  }

  private info(type: string, entry: ClassEntry): ProviderInfo {
    return {
      type,
      kind: entry.kind,
      maintainedIfaceOptions: entry.cls.maintainedIfaceOptions,
      open: entry.instance !== undefined,
      instanceId: entry.instance?.id ?? '',
    };
  }

  private openInstance(instanceId: string): Instance {
    const instance = this.instances.get(instanceId);
    if (instance === undefined || instance.closing) throw instanceNotFound(instanceId);
    return instance;
  }

  private async runOne(instance: Instance): Promise<boolean> {
    return (await this.call(instance, 'run', () => instance.impl.run?.())) === true;
  }

  /** Removes ctxs older than the TTL and releases what their providers hold. */
  reapExpired(): number {
    if (this.limits.ctxTtlMs <= 0) return 0;
    const expired = this.ctxs.createdBefore(this.ctxs.now() - this.limits.ctxTtlMs);
    for (const ctx of expired) {
      this.ctxs.remove(ctx);
      this.reaped++;
      this.release(ctx).catch((error: unknown) => this.fault(ctx.owner.type, 'destroyPortCtx', error));
    }
    return expired.length;
  }

  /** Checks a provider's prepare answer and, if positive, records the ctx. */
  private admit(instance: Instance, ctxIn: PortCtxIn, result: PrepareResult, caller?: CallerContext): PrepareAnswer {
    if (caller !== undefined && (caller.isCancelled() || Date.now() >= caller.deadline)) {
      if (result?.plug === true && ctxIn.opType === 'create' && result.out) {
        const out = result.out;
        void this.quietly(instance.type, 'destroyPortCtx', () => instance.impl.destroyPortCtx?.(ctxIn, out));
      }
      throw new PlugError('CANCELLED', 'CALLER_GONE', 'the caller cancelled the call or its deadline passed; nothing was kept');
    }
    if (result?.plug === false) {
      if (!result.reason || !result.message) {
        throw providerBug(instance.type, 'preparePort', 'declined without a reason and a message');
      }
      return result;
    }
    if (result?.plug !== true) throw providerBug(instance.type, 'preparePort', 'answered neither plug true nor false');
    let out: PortCtxOut | undefined;
    if (ctxIn.opType === 'create') {
      if (!result.out?.name) throw providerBug(instance.type, 'preparePort', 'accepted a create without an interface name');
      out = result.out;
    }
    if (this.ctxs.size >= this.limits.maxCtxs) {
      if (out !== undefined) void this.quietly(instance.type, 'destroyPortCtx', () => instance.impl.destroyPortCtx?.(ctxIn, out));
      throw this.ctxLimit();
    }
    const ctx = this.ctxs.add(instance, ctxIn, out);
    return { plug: true, ctxId: ctx.id, out };
  }

  private ctxLimit(): PlugError {
    return new PlugError(
      'RESOURCE_EXHAUSTED',
      'CTX_LIMIT',
      `${this.ctxs.size} ctxs are live, the limit is ${this.limits.maxCtxs}: finish and destroy the ctxs of ports already prepared (or raise --max-ctx)`,
      { metadata: { limit: String(this.limits.maxCtxs) }, retryAfterMs: 1000 },
    );
  }

  /** Releases what the provider holds for a ctx already removed from the table. */
  private release(ctx: Ctx<Instance>): Promise<void> {
    const instance = ctx.owner;
    return this.call(instance, 'destroyPortCtx', async () => {
      if (ctx.finishing !== undefined) await ctx.finishing.catch(() => undefined);
      if (ctx.ctxIn.opType === 'create' && ctx.ctxOut !== undefined) {
        await instance.impl.destroyPortCtx?.(ctx.ctxIn, ctx.ctxOut);
      }
    });
  }

  /**
   * Every provider callback on an open instance goes through here. It is
   * counted in flight (Close waits for it, and an instance takes only so many
   * at once); it gets at most the provider timeout, or what is left of the
   * caller's deadline; whatever it throws that is not a PlugError becomes
   * INTERNAL / PROVIDER_ERROR. A callback that overruns is abandoned: the
   * caller is answered, the slot is freed, and a late result goes to `late`.
   */
  private call<T>(
    instance: Instance,
    operation: string,
    fn: () => T | Promise<T>,
    caller?: CallerContext,
    late?: (result: T) => void,
  ): Promise<T> {
    // Only work that adds load is refused when busy: finishing and releasing
    // ctxs must always go through, or a controller releasing many ports at
    // once would leak them.
    const sheddable = operation === 'preparePort' || operation === 'run';
    if (sheddable && instance.inflight >= this.limits.maxCallsPerInstance) {
      return Promise.reject(
        new PlugError(
          'RESOURCE_EXHAUSTED',
          'PROVIDER_BUSY',
          `provider "${instance.type}" already has ${instance.inflight} calls under way; retry shortly`,
          { metadata: { type: instance.type }, retryAfterMs: 100 },
        ),
      );
    }
    this.enter(instance);
    let result: T | Promise<T>;
    try {
      result = fn();
    } catch (err) {
      this.leave(instance);
      return Promise.reject(this.providerError(instance, operation, err));
    }
    if (!isThenable(result)) {
      this.leave(instance);
      return Promise.resolve(result);
    }
    const budget = Math.min(this.limits.providerTimeoutMs, (caller?.deadline ?? Infinity) - Date.now());
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.leave(instance);
        reject(
          new PlugError(
            'DEADLINE_EXCEEDED',
            'PROVIDER_TIMEOUT',
            `provider "${instance.type}" did not answer ${operation} within ${Math.max(0, Math.round(budget))} ms`,
            { metadata: { type: instance.type, operation } },
          ),
        );
      }, Math.max(0, budget));
      (result as Promise<T>).then(
        (value) => {
          if (settled) return late?.(value);
          settled = true;
          clearTimeout(timer);
          this.leave(instance);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return this.fault(instance.type, `${operation} (after its timeout)`, err);
          settled = true;
          clearTimeout(timer);
          this.leave(instance);
          reject(this.providerError(instance, operation, err));
        },
      );
    });
  }

  private enter(instance: Instance): void {
    instance.inflight++;
    this.inflight++;
  }

  private leave(instance: Instance): void {
    this.inflight--;
    if (--instance.inflight === 0 && instance.drained !== undefined) instance.drained();
  }

  private providerError(instance: Instance, operation: string, err: unknown): PlugError {
    return isPlugError(err) ? err : providerBug(instance.type, operation, describeError(err), err);
  }

  private async quietly(type: string, operation: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.fault(type, operation, error);
    }
  }

  private fault(type: string, operation: string, error: unknown): void {
    this.options.onFault?.({ type, operation, error });
  }
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function opened(instance: Instance): OpenedInstance {
  return {
    instanceId: instance.id,
    type: instance.type,
    maintainedIfaceOptions: instance.entry.cls.maintainedIfaceOptions,
  };
}

function providerNotFound(type: string): PlugError {
  return new PlugError(
    'NOT_FOUND',
    'PROVIDER_NOT_FOUND',
    `provider type "${type}" is not registered; Register it first (ListProviders shows what is registered)`,
    { metadata: { type } },
  );
}

function instanceNotFound(instanceId: string): PlugError {
  return new PlugError(
    'NOT_FOUND',
    'INSTANCE_NOT_FOUND',
    `no open instance has id "${instanceId}"; Open the provider type and use the instance_id it returns`,
    { metadata: { instance_id: instanceId } },
  );
}

function providerBug(type: string, operation: string, what: string, cause?: unknown): PlugError {
  return new PlugError(
    'INTERNAL',
    'PROVIDER_ERROR',
    `provider "${type}" failed in ${operation}: ${what}; this is a bug in the provider, see the daemon log`,
    { metadata: { type, operation }, cause },
  );
}
