/**
 * The class table (the seed's plug_register_provider / unregister /
 * plug_open / plug_close): provider classes by type, the one instance each may
 * have open, and the lifecycle operations of a type run one at a time.
 */

import { newId } from './ctx-id';
import { PlugError, describeError, isPlugError } from './errors';
import type { GateSlot, GatedInstance } from './instance-gate';
import { KeyedQueue } from './keyed-queue';
import type { ProviderClass, ProviderContext, ProviderInstance } from './provider';

/** How a registered class is implemented. */
export type ProviderKind = 'builtin' | 'remote';

export interface ClassEntry {
  readonly type: string;
  readonly cls: ProviderClass;
  readonly kind: ProviderKind;
  instance: Instance | undefined;
  /** The gate's slot for the class's own calls (listRepresentors), apart from its instance's. */
  readonly calls: GateSlot;
}

export interface Instance extends GatedInstance {
  readonly entry: ClassEntry;
}

/**
 * The class table of the seed (plug_register_provider / unregister /
 * plug_open / plug_close): classes by type and the one instance each may
 * have open.
 *
 * Calls interleave on the event loop and classes may await, so the
 * lifecycle operations of one type run one at a time (`exclusive`), and
 * every table change happens in a single synchronous step after the class
 * answered. Provider calls on open instances are not this module's: they go
 * through the instance gate.
 */
export class ClassTable {
  private readonly classes = new Map<string, ClassEntry>();
  private readonly instances = new Map<string, Instance>();
  private readonly lifecycle = new KeyedQueue();

  get classCount(): number {
    return this.classes.size;
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  /** Registered classes, sorted by type. */
  entries(): ClassEntry[] {
    return [...this.classes.keys()].sort().map((type) => this.classes.get(type)!);
  }

  entry(type: string): ClassEntry | undefined {
    return this.classes.get(type);
  }

  openInstances(): Instance[] {
    return [...this.instances.values()];
  }

  /** Runs `task` after every earlier lifecycle operation of `type` finished, before any later one starts. */
  exclusive<T>(type: string, task: () => Promise<T>): Promise<T> {
    return this.lifecycle.run(type, task);
  }

  /**
   * Adds a class under `type` once its init succeeded. Call within
   * `exclusive(type)`. A PlugError from init refuses the registration with
   * that error; anything else with FAILED_PRECONDITION PROVIDER_INIT_FAILED.
   */
  async add(type: string, cls: ProviderClass, kind: ProviderKind): Promise<ClassEntry> {
    if (this.classes.has(type)) throw providerExists(type);
    try {
      await cls.init?.();
    } catch (err) {
      if (isPlugError(err)) throw err;
      throw new PlugError(
        'FAILED_PRECONDITION',
        'PROVIDER_INIT_FAILED',
        `provider "${type}" failed to initialize and was not registered: ${describeError(err)}`,
        { metadata: { type }, cause: err },
      );
    }
    const entry: ClassEntry = { type, cls, kind, instance: undefined, calls: { type, inflight: 0, drained: undefined } };
    this.classes.set(type, entry);
    return entry;
  }

  /** Removes `type`, running its destroy; refused while an instance is open. */
  unregister(type: string): Promise<void> {
    return this.exclusive(type, async () => {
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

  /**
   * The instance of `type`, opened on first use; the same one until it is
   * closed. `context` goes to the class's open; `opened` is told about an
   * instance this call created.
   */
  open(type: string, context?: (instanceId: string) => ProviderContext, opened?: (instance: Instance) => void): Promise<Instance> {
    const current = this.classes.get(type)?.instance;
    if (current !== undefined && !current.closing) return Promise.resolve(current);
    return this.exclusive(type, async () => {
      const entry = this.classes.get(type);
      if (entry === undefined) throw providerNotFound(type);
      if (entry.instance !== undefined) return entry.instance;
      const id = newId();
      let impl: ProviderInstance;
      try {
        impl = await entry.cls.open(context?.(id));
      } catch (err) {
        if (isPlugError(err) && err.status === 'UNAVAILABLE') throw err;
        throw new PlugError('FAILED_PRECONDITION', 'PROVIDER_OPEN_FAILED', `provider "${type}" failed to open: ${describeError(err)}`, {
          metadata: { type },
          cause: err,
        });
      }
      const instance: Instance = { id, type, entry, impl, closing: false, inflight: 0, drained: undefined };
      entry.instance = instance;
      this.instances.set(instance.id, instance);
      opened?.(instance);
      return instance;
    });
  }

  /**
   * Closes an instance: marks it closing (no new call may start), lets
   * `wind` wait for calls in flight and release its ctxs, then closes it.
   * The instance is gone afterwards whatever the provider said.
   */
  close(instanceId: string, wind: (instance: Instance) => Promise<void>, quietly: (type: string, operation: string, fn: () => unknown) => Promise<void>): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined || instance.closing) return Promise.reject(instanceNotFound(instanceId));
    return this.exclusive(instance.type, async () => {
      if (this.instances.get(instanceId) !== instance || instance.closing) throw instanceNotFound(instanceId);
      instance.closing = true;
      await wind(instance);
      await quietly(instance.type, 'close', () => instance.impl.close?.());
      this.instances.delete(instance.id);
      instance.entry.instance = undefined;
    });
  }

  /** The open instance `instanceId` if it takes new calls; INSTANCE_NOT_FOUND otherwise. */
  instance(instanceId: string): Instance {
    const instance = this.instances.get(instanceId);
    if (instance === undefined || instance.closing) throw instanceNotFound(instanceId);
    return instance;
  }
}

export function providerExists(type: string, endpoint?: string): PlugError {
  const where = endpoint === undefined ? 'as a built-in class' : `at ${endpoint}`;
  return new PlugError('ALREADY_EXISTS', 'PROVIDER_EXISTS', `provider type "${type}" is already registered ${where}; Unregister it first`, {
    metadata: { type, ...(endpoint === undefined ? {} : { endpoint }) },
  });
}

export function providerNotFound(type: string): PlugError {
  return new PlugError(
    'NOT_FOUND',
    'PROVIDER_NOT_FOUND',
    `provider type "${type}" is not registered; Register it first (ListProviders shows what is registered)`,
    { metadata: { type } },
  );
}

export function instanceNotFound(instanceId: string): PlugError {
  return new PlugError(
    'NOT_FOUND',
    'INSTANCE_NOT_FOUND',
    `no open instance has id "${instanceId}"; Open the provider type and use the instance_id it returns`,
    { metadata: { instance_id: instanceId } },
  );
}
