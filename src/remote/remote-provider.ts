/**
 * The class of a provider that lives in another process, as the registry
 * sees it: every callback of the provider contract becomes a call of
 * vifplug.provider.v1.Provider, made with the budget the instance gate gives
 * it (deadline, cancellation). It records what the registry asks (the class
 * registered, the instance opened and closed) with the session keeper and
 * makes the calls that are not PreparePort; PreparePort goes to the
 * preparer.
 *
 * It holds no session state and chooses no route: the keeper keeps the
 * session (session-keeper.ts), the preparer carries PreparePort
 * (preparer.ts), provider-errors.ts words every failure.
 */
import { newId, type CallBudget, type PortCtxIn, type PortCtxOut, type PrepareResult, type ProviderContext, type ProviderHealth, type ProviderInstance, type RemoteProviderClass, type Representor } from '../registry';
import { Answers } from './answers';
import { failureOfThrown } from './call-failure';
import type { ProviderEndpoint } from '../api/endpoint';
import { Preparer } from './preparer';
import { SessionKeeper } from './session-keeper';
import type { RemoteSettings } from './settings';
import { fromWireRepresentor, toWireCtxIn, toWireCtxOut } from '../api/wire';

/**
 * A remote provider class. A session is one connection: GetInfo and the
 * checks, Init, Open of the instance if one is open. Whenever the
 * connection drops, a probe fails or the Watch stream breaks, the provider
 * is down: its calls fail at once with UNAVAILABLE / PROVIDER_UNAVAILABLE,
 * and a new session is attempted with a growing delay (up to the probe
 * interval) until one succeeds.
 */
export class RemoteProvider implements RemoteProviderClass {
  readonly endpoint: string;
  private readonly keeper: SessionKeeper;
  private readonly answers: Answers;
  private readonly preparer: Preparer;

  constructor(
    readonly type: string,
    address: ProviderEndpoint,
    settings: RemoteSettings,
  ) {
    this.endpoint = address.spec;
    this.keeper = new SessionKeeper(type, address, settings);
    this.answers = new Answers(this.keeper.errors);
    this.preparer = new Preparer(this.keeper, this.answers);
  }

  get maintainedIfaceOptions(): readonly string[] {
    return this.keeper.info?.maintainedIfaceOptions ?? [];
  }

  /** Whether the provider's GetInfo announced ListRepresentors. */
  get listsRepresentors(): boolean {
    return this.keeper.info?.capabilities?.listRepresentors === true;
  }

  /** Dials and checks the provider and starts its first session; on failure nothing is left behind. */
  async init(): Promise<void> {
    try {
      await this.keeper.connect();
    } catch (err) {
      this.keeper.stop();
      throw err;
    }
  }

  /** Ends the session; a provider that cannot be reached is let go without it. */
  async destroy(): Promise<void> {
    const session = this.keeper.live();
    if (session !== undefined) {
      try {
        await session.conn.call('destroy', {}, session.deadline());
      } catch (err) {
        const failure = failureOfThrown(err);
        if (failure.kind !== 'unimplemented' && !session.dropped(failure)) throw this.keeper.errors.of('Destroy', failure);
      }
    }
    this.keeper.stop();
  }

  health(): ProviderHealth {
    return this.keeper.health();
  }

  /** The provider registered again: start a new session now. */
  recheck(): Promise<void> {
    return this.keeper.connect();
  }

  async open(context?: ProviderContext): Promise<ProviderInstance> {
    const session = this.keeper.serving();
    const instanceId = context?.instanceId ?? newId();
    this.keeper.setInstance({ id: instanceId, context });
    try {
      await session.conn.call('open', { instanceId }, session.deadline());
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind !== 'unimplemented') {
        this.keeper.setInstance(undefined);
        throw this.keeper.callFailed('Open', failure, session);
      }
    }
    return new RemoteInstance(this, instanceId);
  }

  async listRepresentors(): Promise<readonly Representor[]> {
    const session = this.keeper.serving();
    if (session.info.capabilities?.listRepresentors !== true) throw this.keeper.errors.listingUnsupported();
    try {
      const res = await session.conn.call('listRepresentors', {}, session.deadline());
      return res.representors.map(fromWireRepresentor);
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind === 'unimplemented') throw this.keeper.errors.listingUnsupported();
      throw this.keeper.callFailed('ListRepresentors', failure, session);
    }
  }

  // --- the instance's calls (RemoteInstance delegates here) ---

  async run(instanceId: string, budget: CallBudget | undefined): Promise<boolean> {
    const session = this.keeper.serving();
    let changed = false;
    try {
      changed = (await session.conn.call('run', { instanceId }, session.deadline(budget), budget)).changed;
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind !== 'unimplemented') throw this.keeper.callFailed('Run', failure, session);
    }
    const fresh = this.keeper.takeFresh();
    return changed || fresh;
  }

  preparePort(instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    return this.preparer.prepare(instanceId, ctxIn, budget);
  }

  async finishPort(instanceId: string, ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, budget: CallBudget | undefined): Promise<void> {
    const session = this.keeper.serving();
    const request = { instanceId, ctxIn: toWireCtxIn(ctxIn), ctxOut: toWireCtxOut(ctxOut), handle: this.answers.handleOf(ctxIn) };
    try {
      await session.conn.call('finishPort', request, session.deadline(budget), budget);
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind !== 'unimplemented') throw this.keeper.callFailed('FinishPort', failure, session);
    }
  }

  /**
   * While the provider is down, UNAVAILABLE as for FinishPort: the port
   * cycle keeps the ctx, so that the caller's retry reaches the provider
   * once it is back (in its new session, with the same handle).
   */
  async destroyPortCtx(instanceId: string, ctxIn: PortCtxIn, ctxOut: PortCtxOut, budget: CallBudget | undefined): Promise<void> {
    const session = this.keeper.serving();
    const request = { instanceId, ctxIn: toWireCtxIn(ctxIn), ctxOut: toWireCtxOut(ctxOut), handle: this.answers.handleOf(ctxIn) };
    try {
      await session.conn.call('destroyPortCtx', request, session.deadline(budget), budget);
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind === 'unimplemented') return;
      throw this.keeper.callFailed('DestroyPortCtx', failure, session);
    }
  }

  async close(instanceId: string): Promise<void> {
    this.keeper.setInstance(undefined);
    const session = this.keeper.live();
    if (session === undefined) return;
    try {
      await session.conn.call('close', { instanceId }, session.deadline());
    } catch (err) {
      const failure = failureOfThrown(err);
      if (failure.kind !== 'unimplemented' && !session.dropped(failure)) throw this.keeper.callFailed('Close', failure, session);
    }
  }
}

/** The open instance of a remote class: the gate's callbacks, bound to the instance id. */
class RemoteInstance implements ProviderInstance {
  constructor(
    private readonly provider: RemoteProvider,
    private readonly id: string,
  ) {}

  run(budget?: CallBudget): Promise<boolean> {
    return this.provider.run(this.id, budget);
  }

  preparePort(ctxIn: PortCtxIn, budget?: CallBudget): Promise<PrepareResult> {
    return this.provider.preparePort(this.id, ctxIn, budget);
  }

  finishPort(ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, budget?: CallBudget): Promise<void> {
    return this.provider.finishPort(this.id, ctxIn, ctxOut, budget);
  }

  destroyPortCtx(ctxIn: PortCtxIn, ctxOut: PortCtxOut, budget?: CallBudget): Promise<void> {
    return this.provider.destroyPortCtx(this.id, ctxIn, ctxOut, budget);
  }

  close(): Promise<void> {
    return this.provider.close(this.id);
  }
}
