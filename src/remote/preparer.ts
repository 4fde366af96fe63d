/**
 * Carries PreparePort calls to a remote provider by the route the session's
 * PrepareRoute chooses: gathered with the ports asked for in the same turn
 * of the event loop and sent as PreparePorts (the hop paid once per batch),
 * as a message of the session's PortStream, or as one unary PreparePort.
 * The first port of a turn, when it can go on the PortStream, goes at once
 * rather than at the end of the turn: the provider answers it while the
 * daemon finishes the turn's work. Every answer, by whichever route, goes
 * through Answers.
 *
 * It does not choose routes (prepare-route.ts), word failures
 * (provider-errors.ts) or decide that the provider is down (the session
 * keeper): it only sends and collects.
 */
import type { PortResult } from '../gen/vifplug/provider/v1/provider';
import type { CallBudget, PortCtxIn, PrepareResult } from '../registry';
import type { Answers } from './answers';
import { failureOfThrown } from './call-failure';
import { PortStreamBroken } from './port-stream';
import type { Route } from './prepare-route';
import type { Session } from './session';
import type { SessionKeeper } from './session-keeper';
import { MAX_BATCH } from '../api/limits';
import { toWireCtxIn } from '../api/wire';

interface PendingPort {
  readonly ctxIn: PortCtxIn;
  readonly budget: CallBudget | undefined;
  resolve(result: PrepareResult): void;
  reject(err: unknown): void;
}

export class Preparer {
  /** Ports waiting for the end of this turn of the event loop, by instance. */
  private readonly gathering = new Map<string, PendingPort[]>();

  constructor(
    private readonly keeper: SessionKeeper,
    private readonly answers: Answers,
  ) {}

  prepare(instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    const session = this.keeper.serving();
    const route = session.route.choose(1, budget, false);
    if (route === 'gather') return this.gather(session, instanceId, ctxIn, budget);
    return this.alone(route, session, instanceId, ctxIn, budget);
  }

  private gather(session: Session, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    let ports = this.gathering.get(instanceId);
    if (ports === undefined) {
      // The first port of this turn: the turn opens, and those asked for
      // after it in the same turn travel together when it ends.
      ports = [];
      this.gathering.set(instanceId, ports);
      queueMicrotask(() => this.flush(session, instanceId));
      if (session.route.choose(1, budget, true) === 'stream') return this.streamed(session, instanceId, ctxIn, budget!);
    }
    const gathered = ports;
    return new Promise((resolve, reject) => gathered.push({ ctxIn, budget, resolve, reject }));
  }

  /** Sends the ports gathered for `instanceId`: one alone, more as PreparePorts of at most MAX_BATCH. */
  private flush(session: Session, instanceId: string): void {
    const ports = this.gathering.get(instanceId) ?? [];
    this.gathering.delete(instanceId);
    const [first] = ports;
    if (first === undefined) return;
    const route = session.route.choose(ports.length, first.budget, true);
    if (route !== 'batch') {
      this.alone(route, session, instanceId, first.ctxIn, first.budget).then(first.resolve, first.reject);
      return;
    }
    for (let i = 0; i < ports.length; i += MAX_BATCH) void this.batch(session, instanceId, ports.slice(i, i + MAX_BATCH));
  }

  /** One port, on the PortStream or as PreparePort. */
  private alone(route: Route, session: Session, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    // The route is 'stream' only for a call with a budget.
    return route === 'stream' ? this.streamed(session, instanceId, ctxIn, budget!) : this.unary(session, instanceId, ctxIn, budget);
  }

  private async unary(session: Session, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget | undefined): Promise<PrepareResult> {
    let res;
    try {
      res = await session.conn.call('preparePort', { instanceId, ctxIn: toWireCtxIn(ctxIn) }, session.deadline(budget), budget);
    } catch (err) {
      throw this.keeper.callFailed('PreparePort', failureOfThrown(err), session);
    }
    return this.answers.accept(ctxIn, res);
  }

  private async streamed(session: Session, instanceId: string, ctxIn: PortCtxIn, budget: CallBudget): Promise<PrepareResult> {
    let result: PortResult;
    try {
      result = await session.openPortStream().prepare(instanceId, toWireCtxIn(ctxIn), session.deadline(budget), budget);
    } catch (err) {
      if (!(err instanceof PortStreamBroken)) throw this.keeper.callFailed('PortStream', failureOfThrown(err), session);
      const { by, failure } = err.end;
      // Nothing was served: the same call is PreparePort's now (and the
      // session's route has learnt to send the next ones that way).
      if (by === 'status' && failure.kind === 'unimplemented') return this.unary(session, instanceId, ctxIn, budget);
      // The connection dropped (the provider is down), or the provider broke the API.
      if ((by === 'status' && session.dropped(failure)) || by === 'malformed') throw this.keeper.callFailed('PortStream', failure, session);
      throw this.keeper.errors.portStreamBroke(failure);
    }
    return this.answers.acceptPort('PortStream', ctxIn, result.result);
  }

  private async batch(session: Session, instanceId: string, ports: PendingPort[]): Promise<void> {
    // The call lives as long as the longest-lived caller wants it, and is
    // not cancelled: a port whose caller left earlier is answered late, and
    // the gate releases what it got.
    let deadline = 0;
    for (const port of ports) deadline = Math.max(deadline, session.deadline(port.budget));
    let results;
    try {
      results = (await session.conn.call('preparePorts', { instanceId, ports: ports.map((p) => toWireCtxIn(p.ctxIn)) }, deadline)).results;
    } catch (err) {
      const error = this.keeper.callFailed('PreparePorts', failureOfThrown(err), session);
      for (const port of ports) port.reject(error);
      return;
    }
    if (results.length !== ports.length) {
      const error = this.keeper.errors.broken('PreparePorts', `answered ${results.length} results for ${ports.length} ports`);
      for (const port of ports) port.reject(error);
      return;
    }
    ports.forEach((port, i) => {
      try {
        port.resolve(this.answers.acceptPort('PreparePorts', port.ctxIn, results[i]!.result));
      } catch (err) {
        port.reject(err);
      }
    });
  }
}
