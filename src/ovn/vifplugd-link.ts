/**
 * The agent's side of vifplugd: one instance per served vif-plug-type,
 * prepared, finished and released in batches (PreparePorts, FinishPorts,
 * DestroyCtxs: two calls per pass whatever the number of ports), and the
 * Watch stream that wakes the agent when a provider's view changes.
 *
 * vifplugd restarting is normal life: instance ids of the old boot are gone
 * (INSTANCE_NOT_FOUND: open again and retry once), ctxs of the old boot are
 * gone (a FinishPort on them fails with CTX_NOT_FOUND after the OVSDB change
 * committed: nothing is lost, the next pass prepares afresh), and the Watch
 * stream ends (reconnect with backoff; its first RESYNC asks for a full
 * pass). While vifplugd is unreachable every port it would answer for is
 * pending with reason VIFPLUGD_UNAVAILABLE, and nothing is unplugged.
 */

import type { Logger } from 'pino';

import { LIMITS, MAX_BATCH } from '../api/limits';
import { isProviderType } from '../api/validate';
import { Code, VifplugClient, VifplugError, type WatchStream } from '../client/client';
import { explainUnreachable, isUnreachable } from '../client/unreachable';
import { Backoff } from '../common/backoff';
import { Status } from '../gen/google/rpc/status';
import { ErrorInfo } from '../gen/google/rpc/error_details';
import { ChangeKind, OpType, type PortRequest, type WatchResponse } from '../gen/vifplug/v1/vifplug';
import { describeError } from '../registry/errors';
import { NO_OPTIONS } from '../registry/provider';
import type { CreateAnswer, RemoveAnswer, Want } from './model';
import type { Removal } from './plan';

/**
 * Reads --types: `TYPE` (an lport vif-plug-type and the vifplugd provider of
 * the same name) or `TYPE=PROVIDER`. Throws a message for people.
 */
export function parseTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const item of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const [type, provider = type, extra] = item.split('=');
    for (const name of [type!, provider]) {
      if (!isProviderType(name) || extra !== undefined) throw new Error(`"${item}" is not TYPE or TYPE=PROVIDER (names of 1-${LIMITS.maxTypeLength} characters of A-Z a-z 0-9 _ . -)`);
    }
    if (types.has(type!)) throw new Error(`the type ${type} is listed twice`);
    types.set(type!, provider);
  }
  if (types.size === 0) throw new Error('the list is empty');
  return types;
}

export interface LinkOptions {
  readonly client: VifplugClient;
  /**
   * The vif-plug-types served, each with the vifplugd provider that plugs it:
   * usually the same name; another one lets an lport type that ovn-controller
   * does not know (e.g. "vifplug-representor") use vifplugd's "representor"
   * where ovn-controller has a representor provider of its own.
   */
  readonly types: ReadonlyMap<string, string>;
  readonly logger: Logger;
  /** Reconnect backoff of the Watch stream. */
  readonly watchBackoff?: { readonly minMs: number; readonly maxMs: number };
}

interface Opened {
  readonly instanceId: string;
  readonly maintained: readonly string[];
}

/** What a Watch event asks the agent to do. */
export type WatchNudge = { readonly kind: 'all' } | { readonly kind: 'type'; readonly type: string };

export class VifplugdLink {
  private readonly instances = new Map<string, Opened>();
  private stream: WatchStream | undefined;
  private stopped = false;
  private bootId = '';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly reconnects: Backoff;
  /** The Watch stream's failure was logged; its next event says vifplugd is back. */
  private saidDown = false;

  constructor(private readonly options: LinkOptions) {
    this.reconnects = new Backoff(options.watchBackoff ?? { minMs: 100, maxMs: 5000 });
  }

  /** Each served lport type's maintained interface options, as its provider's instance was last opened. */
  maintained(): ReadonlyMap<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [type, provider] of this.options.types) {
      const opened = this.instances.get(provider);
      if (opened !== undefined) out.set(type, opened.maintained);
    }
    return out;
  }

  /** Follows Watch until stop(), reconnecting with backoff; `nudge` is told what to reconcile. */
  watch(nudge: (what: WatchNudge) => void): void {
    if (this.stopped) return;
    const stream = this.options.client.watch([...new Set(this.options.types.values())]);
    this.stream = stream;
    void (async () => {
      try {
        for await (const event of stream) {
          this.reconnects.reset();
          if (this.saidDown) {
            this.saidDown = false;
            this.options.logger.info(`vifplugd is reachable again at ${this.options.client.target}`);
          }
          this.onEvent(event, nudge);
        }
        if (!this.stopped) this.options.logger.warn('the vifplugd Watch stream ended; reconnecting');
      } catch (err) {
        if (this.stopped) return;
        const message = isUnreachable(err)
          ? `vifplugd unreachable: ${this.unreachable(err)}; reconnecting with backoff, plugged ports stay, new ones wait`
          : `vifplugd Watch stream failed (${describeError(err)}); reconnecting with backoff, ports wait meanwhile`;
        if (!this.saidDown) this.options.logger.warn(message);
        else this.options.logger.debug(message);
        this.saidDown = true;
      }
      if (this.stopped) return;
      // vifplugd may come back as a new boot: its instances are gone.
      this.instances.clear();
      nudge({ kind: 'all' });
      this.reconnectTimer = setTimeout(() => this.watch(nudge), this.reconnects.next());
    })();
  }

  /** What was tried, what happened and what to check, in one line. */
  private unreachable(err: VifplugError): string {
    const why = explainUnreachable(this.options.client.target, err, { socket: '--socket PATH or VIFPLUG_OVN_SOCKET', addr: '--addr HOST:PORT or VIFPLUG_OVN_ADDR' });
    return `${why.message}; ${why.hint}`;
  }

  /** The lport types a provider serves. */
  private lportTypes(provider: string): string[] {
    return [...this.options.types].filter(([, p]) => p === provider).map(([t]) => t);
  }

  private onEvent(event: WatchResponse, nudge: (what: WatchNudge) => void): void {
    if (event.kind === ChangeKind.CHANGE_KIND_RESYNC) {
      if (event.bootId !== '' && event.bootId !== this.bootId) {
        if (this.bootId !== '') this.options.logger.info({ bootId: event.bootId }, 'vifplugd restarted; opening its providers again');
        this.bootId = event.bootId;
        this.instances.clear();
      }
      nudge({ kind: 'all' });
      return;
    }
    if (event.kind === ChangeKind.CHANGE_KIND_INSTANCE_CLOSED || event.kind === ChangeKind.CHANGE_KIND_PROVIDER_UNREGISTERED) {
      if (this.instances.get(event.type)?.instanceId === event.instanceId || event.kind === ChangeKind.CHANGE_KIND_PROVIDER_UNREGISTERED) {
        this.instances.delete(event.type);
      }
    }
    for (const type of this.lportTypes(event.type)) nudge({ kind: 'type', type });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
  }

  /**
   * Asks each want's provider (CREATE); a failure of the call becomes every
   * port's answer. `useDpdk`: the integration bridge runs the userspace
   * datapath (views.ts usesDpdk).
   */
  async prepareCreates(wants: readonly Want[], useDpdk: boolean): Promise<Map<string, CreateAnswer>> {
    const answers = new Map<string, CreateAnswer>();
    await this.prepareEach(
      wants,
      (w) => w.type,
      (w) => portRequest(OpType.OP_TYPE_CREATE, useDpdk, w.lport, w.options, '', '', NO_OPTIONS),
      (w, outcome) => answers.set(w.lport, toCreateAnswer(outcome)),
    );
    return answers;
  }

  /** Asks each removal's provider (REMOVE), telling it the interface as it is; by interface uuid. */
  async prepareRemoves(removals: readonly Removal[], useDpdk: boolean): Promise<Map<string, RemoveAnswer>> {
    const answers = new Map<string, RemoveAnswer>();
    await this.prepareEach(
      removals,
      (r) => r.type,
      (r) => portRequest(OpType.OP_TYPE_REMOVE, useDpdk, r.lport, NO_OPTIONS, r.iface.name, r.iface.type, r.iface.options),
      (r, outcome) => {
        const a = toCreateAnswer(outcome);
        answers.set(r.iface.ifaceUuid, a.kind === 'plug' ? { kind: 'plug', ctxId: a.ctxId } : a);
      },
    );
    return answers;
  }

  /** PreparePorts per lport type, the types in parallel; `each` gets every item's outcome. */
  private async prepareEach<T>(items: readonly T[], typeOf: (item: T) => string, request: (item: T) => PortRequest, each: (item: T, outcome: PortOutcome) => void): Promise<void> {
    await Promise.all(
      [...groupBy(items, typeOf)].map(async ([type, list]) => {
        const results = await this.prepare(type, list.map(request));
        list.forEach((item, i) => each(item, results[i]!));
      }),
    );
  }

  /** After a commit: finish (and, for CREATE ctxs, release) each ctx. Ctxs vifplugd forgot (it restarted) are fine. */
  async finish(ctxIds: readonly string[], destroy: boolean): Promise<void> {
    await this.batches(ctxIds, (ids) => this.options.client.finishPorts(ids, destroy));
  }

  /** Releases ctxs that were not used, or whose commit failed. */
  async release(ctxIds: readonly string[]): Promise<void> {
    await this.batches(ctxIds, (ids) => this.options.client.destroyCtxs(ids));
  }

  private async batches(ctxIds: readonly string[], call: (ids: string[]) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < ctxIds.length; i += MAX_BATCH) {
      try {
        await call(ctxIds.slice(i, i + MAX_BATCH));
      } catch (err) {
        // vifplugd gone: its ctxs are gone with it (or reaped after --ctx-ttl).
        this.options.logger.debug({ err: describeError(err) }, 'could not finish or release ctxs; vifplugd reaps them');
      }
    }
  }

  /** PreparePorts for one type, batch by batch; one result per port (an error status when the call failed). */
  private async prepare(lportType: string, ports: PortRequest[]): Promise<PortOutcome[]> {
    const type = this.options.types.get(lportType) ?? lportType;
    const out: PortOutcome[] = [];
    for (let i = 0; i < ports.length; i += MAX_BATCH) {
      const batch = ports.slice(i, i + MAX_BATCH);
      out.push(...(await this.prepareBatch(type, batch, true)));
    }
    return out;
  }

  private async prepareBatch(type: string, ports: PortRequest[], mayReopen: boolean): Promise<PortOutcome[]> {
    let instance: Opened;
    try {
      instance = await this.instance(type);
    } catch (err) {
      return this.everyPortFailed(ports, err, type);
    }
    try {
      const { results } = await this.options.client.preparePorts(instance.instanceId, ports);
      return results.map((r): PortOutcome => (r.result?.$case === 'prepared' ? { ok: r.result.value } : { failed: fromStatus(r.result?.value) }));
    } catch (err) {
      if (err instanceof VifplugError && err.reason === 'INSTANCE_NOT_FOUND' && mayReopen) {
        this.instances.delete(type);
        return this.prepareBatch(type, ports, false);
      }
      return this.everyPortFailed(ports, err, type);
    }
  }

  /**
   * The whole call failed: every port of it gets the same answer, worked
   * out once (an unreachable vifplugd is explained by looking at its socket).
   */
  private everyPortFailed(ports: readonly PortRequest[], err: unknown, type: string): PortOutcome[] {
    const failed = this.callFailure(err, type);
    return ports.map(() => failed);
  }

  /** What a failed call means for a port of it. */
  private callFailure(err: unknown, type: string): PortOutcome {
    if (isUnreachable(err)) {
      return { failed: { code: Code.UNAVAILABLE, reason: 'VIFPLUGD_UNAVAILABLE', message: `${this.unreachable(err)}; retrying` } };
    }
    return callFailure(err, type);
  }

  private async instance(type: string): Promise<Opened> {
    const known = this.instances.get(type);
    if (known !== undefined) return known;
    const opened = await this.options.client.open(type);
    const entry = { instanceId: opened.instanceId, maintained: opened.maintainedIfaceOptions };
    this.instances.set(type, entry);
    return entry;
  }
}

type PortOutcome = { ok: { plug: boolean; ctxId: string; name: string; type: string; ifaceOptions: Map<string, string>; declineReason: string; declineMessage: string } } | { failed: Failure };

interface Failure {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

function toCreateAnswer(outcome: PortOutcome): CreateAnswer {
  if ('failed' in outcome) {
    const { code, reason, message } = outcome.failed;
    return { kind: 'error', reason, message, retryable: code !== Code.INVALID_ARGUMENT && code !== Code.FAILED_PRECONDITION };
  }
  const p = outcome.ok;
  if (!p.plug) return { kind: 'declined', reason: p.declineReason || 'DECLINED', message: p.declineMessage || 'the provider declined', retryable: true };
  return { kind: 'plug', ctxId: p.ctxId, name: p.name, type: p.type, ifaceOptions: p.ifaceOptions };
}

function fromStatus(status: Status | undefined): Failure {
  if (status === undefined) return { code: Code.INTERNAL, reason: 'EMPTY_RESULT', message: 'vifplugd answered no result for the port' };
  const info = status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo');
  const reason = info === undefined ? '' : ErrorInfo.decode(info.value).reason;
  return { code: status.code, reason: reason || `CODE_${status.code}`, message: status.message };
}

/** The whole call failed, with an answer from vifplugd: every port of it gets the same answer. */
function callFailure(err: unknown, type: string): PortOutcome {
  if (err instanceof VifplugError) {
    if (err.reason === 'PROVIDER_NOT_FOUND') {
      return {
        failed: {
          code: Code.UNAVAILABLE,
          reason: 'PROVIDER_NOT_REGISTERED',
          message: `vifplugd has no "${type}" provider registered; register it (vifplugd --providers, or vifplugctl register ${type})`,
        },
      };
    }
    return { failed: { code: err.code, reason: err.reason || err.codeName, message: err.message } };
  }
  return { failed: { code: Code.INTERNAL, reason: 'AGENT_ERROR', message: describeError(err) } };
}

function portRequest(
  opType: OpType,
  useDpdk: boolean,
  lportName: string,
  lportOptions: ReadonlyMap<string, string>,
  ifaceName: string,
  ifaceType: string,
  ifaceOptions: ReadonlyMap<string, string>,
): PortRequest {
  // Only read by the encoder: no copies.
  return { opType, useDpdk, lportName, lportOptions: lportOptions as Map<string, string>, ifaceName, ifaceType, ifaceOptions: ifaceOptions as Map<string, string> };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}
