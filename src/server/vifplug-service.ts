/**
 * The unary methods of vifplug.v1.VifPlug as plain async functions over the
 * registry: each checks its request by the API's rules (api/validate.ts),
 * calls the registry with the caller's deadline and cancellation, and turns
 * the answer into the response message. Errors are thrown as PlugErrors;
 * turning them into statuses is the adapter's job (grpc/unary.ts), not
 * theirs. Knows no provider by name.
 */

import type { ServerUnaryCall, handleUnaryCall } from '@grpc/grpc-js';

import {
  ProviderHealth,
  ProviderKind,
  VifPlugService,
  type PortResult,
  type PreparePortResponse,
  type ProviderInfo as WireProviderInfo,
  type VifPlugServer,
} from '../gen/vifplug/v1/vifplug';
import type { Status } from '../gen/google/rpc/status';
import {
  NO_OPTIONS,
  PlugError,
  forItem,
  missingField,
  type CallerContext,
  type PortCtxIn,
  type PrepareAnswer,
  type ProviderInfo,
  type Registry,
} from '../registry';
import { parseEndpoint } from '../api/endpoint';
import { toWireRepresentor } from '../api/wire';
import { toWireCards, toWireIdentity } from './identity';
import { CancelListeners } from '../grpc/cancelled';
import { onUndelivered } from '../grpc/delivery';
import { toStatus } from '../api/status';
import { asPlugError } from '../grpc/service-error';
import type { UnaryHandler } from '../grpc/unary';
import * as valid from '../api/validate';

/** The unary VifPlug methods: all but the Watch stream (watch.ts). */
type UnaryMethod = Exclude<keyof typeof VifPlugService, 'watch'>;

/** The unary VifPlug methods as plain async functions over the registry. */
export type VifPlugHandlers = {
  [K in UnaryMethod]: VifPlugServer[K] extends handleUnaryCall<infer Req, infer Res> ? UnaryHandler<Req, Res> : never;
};

/**
 * Who may call Register and Unregister (vifplugd --registration):
 * "unix": callers on a unix socket of the daemon, whose mode and group say
 * who may connect; "any": also TCP callers (with TLS, and mutual TLS to know
 * them); "off": nobody, the registry is what the operator configured.
 */
export type RegistrationPolicy = 'unix' | 'any' | 'off';

export function vifPlugHandlers(registry: Registry, registration: RegistrationPolicy = 'unix'): VifPlugHandlers {
  const allowed = (call: ServerUnaryCall<unknown, unknown>, what: string) => {
    if (registration === 'any') return;
    // grpc-js knows no peer address for a unix socket connection.
    if (registration === 'unix' && call.getPeer() === 'unknown') return;
    throw new PlugError(
      'PERMISSION_DENIED',
      'REGISTRATION_NOT_ALLOWED',
      registration === 'off'
        ? `${what} is turned off on this daemon (--registration off): its providers are those of --providers and --provider-dir`
        : `${what} is allowed on the daemon's unix sockets only (--registration unix); call it there, or start vifplugd with --registration any`,
      { metadata: { registration } },
    );
  };
  return {
    async register(req, call) {
      const type = valid.providerType(req.type);
      const endpoint = valid.endpoint(req.endpoint);
      allowed(call, 'Register');
      if (endpoint === '') return { provider: wireInfo(await registry.register(type)) };
      parseEndpoint(endpoint);
      return { provider: wireInfo(await registry.registerRemote(type, endpoint)) };
    },

    async unregister(req, call) {
      const type = valid.providerType(req.type);
      allowed(call, 'Unregister');
      await registry.unregister(type);
      return {};
    },

    async listProviders() {
      return { providers: registry.list().map(wireInfo), builtinTypes: registry.builtinTypes() };
    },

    async open(req) {
      const opened = await registry.open(valid.providerType(req.type));
      return { instanceId: opened.instanceId, maintainedIfaceOptions: [...opened.maintainedIfaceOptions] };
    },

    async close(req) {
      await registry.close(valid.id(req.instanceId, 'instance_id'));
      return {};
    },

    async run(req) {
      return { changed: await registry.run(valid.optionalId(req.instanceId, 'instance_id')) };
    },

    async preparePort(req, call): Promise<PreparePortResponse> {
      const instanceId = valid.id(req.instanceId, 'instance_id');
      const answer = await registry.preparePort(instanceId, valid.portCtxIn(req), callerOf(call));
      if (answer.plug) releaseIfUndelivered(registry, call, [answer.ctxId]);
      return wirePrepared(answer);
    },

    async preparePorts(req, call) {
      const instanceId = valid.id(req.instanceId, 'instance_id');
      valid.batch(req.ports.length, 'ports');
      registry.assertOpen(instanceId);
      const caller = callerOf(call);
      const results = await Promise.all(
        req.ports.map((port, i): Promise<PortResult> => {
          let ctxIn: PortCtxIn;
          try {
            ctxIn = valid.portCtxIn(port);
          } catch (err) {
            return Promise.resolve(failed(forItem(asPlugError(err), `ports[${i}]`)));
          }
          return registry.preparePort(instanceId, ctxIn, caller).then(
            (answer) => ({ result: { $case: 'prepared', value: wirePrepared(answer) } }),
            (err: unknown) => failed(asPlugError(err)),
          );
        }),
      );
      const ctxIds = results.flatMap((r) => (r.result?.$case === 'prepared' && r.result.value.ctxId !== '' ? [r.result.value.ctxId] : []));
      releaseIfUndelivered(registry, call, ctxIds);
      return { results };
    },

    async finishPorts(req) {
      valid.batch(req.ctxIds.length, 'ctx_ids');
      const finish = (ctxId: string) => registry.finishPort(ctxId).then(() => (req.destroy ? registry.destroyCtx(ctxId) : undefined));
      return { results: await Promise.all(req.ctxIds.map((id, i) => eachCtx(id, i, finish))) };
    },

    async destroyCtxs(req) {
      valid.batch(req.ctxIds.length, 'ctx_ids');
      return { results: await Promise.all(req.ctxIds.map((id, i) => eachCtx(id, i, (ctxId) => registry.destroyCtx(ctxId)))) };
    },

    async finishPort(req) {
      await registry.finishPort(valid.id(req.ctxId, 'ctx_id'));
      return {};
    },

    async destroyCtx(req) {
      await registry.destroyCtx(valid.id(req.ctxId, 'ctx_id'));
      return {};
    },

    async listRepresentors(req, call) {
      const type = req.type === '' ? theLister(registry) : valid.providerType(req.type);
      return { representors: (await registry.listRepresentors(type, callerOf(call))).map(toWireRepresentor) };
    },

    async identify(req, call) {
      const vfPciAddress = valid.pciAddress(req.vfPciAddress, 'vf_pci_address');
      const type = req.type === '' ? theIdentifier(registry) : valid.providerType(req.type);
      return toWireIdentity(await registry.identify(type, vfPciAddress, callerOf(call)));
    },

    async listCards(req, call) {
      const type = req.type === '' ? theIdentifier(registry) : valid.providerType(req.type);
      return toWireCards(await registry.listCards(type, callerOf(call)));
    },
  };
}

/** Identify and ListCards without a type: the one registered class that identifies hardware. */
function theIdentifier(registry: Registry): string {
  const found = registry.list().flatMap((p) => (p.identifies ? [p.type] : []));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new PlugError('NOT_FOUND', 'PROVIDER_NOT_FOUND', 'no registered provider identifies hardware; Register one (the built-in "representor" does)');
  }
  throw missingField('type', `several registered providers identify hardware (${found.join(', ')}); name one`);
}

/**
 * ListRepresentors without a type: the one registered class that announces
 * it lists hardware ports (the built-in representor, in a default daemon).
 */
function theLister(registry: Registry): string {
  const listers = registry.list().flatMap((p) => (p.listsRepresentors ? [p.type] : []));
  if (listers.length === 1) return listers[0]!;
  if (listers.length === 0) {
    throw new PlugError('NOT_FOUND', 'PROVIDER_NOT_FOUND', 'no registered provider lists hardware ports; Register one (ListProviders shows what is registered)');
  }
  throw missingField('type', `several registered providers list hardware ports (${listers.join(', ')}); name one`);
}

function wirePrepared(answer: PrepareAnswer): PreparePortResponse {
  if (!answer.plug) {
    return {
      plug: false,
      ctxId: '',
      name: '',
      type: '',
      ifaceOptions: NO_OPTIONS as Map<string, string>,
      declineReason: answer.reason,
      declineMessage: answer.message,
    };
  }
  return {
    plug: true,
    ctxId: answer.ctxId,
    name: answer.out?.name ?? '',
    type: answer.out?.type ?? '',
    // Only read by the encoder; no copy on the hot path.
    ifaceOptions: (answer.out?.ifaceOptions ?? NO_OPTIONS) as Map<string, string>,
    declineReason: '',
    declineMessage: '',
  };
}

function failed(err: PlugError): PortResult {
  return { result: { $case: 'error', value: toStatus(err) } };
}

const OK: Status = { code: 0, message: '', details: [] };

/** One ctx of a FinishPorts / DestroyCtxs call: its own validation, its own status. */
function eachCtx(ctxId: string, i: number, op: (ctxId: string) => Promise<unknown>): Promise<Status> {
  try {
    valid.id(ctxId, 'ctx_id');
  } catch (err) {
    return Promise.resolve(toStatus(forItem(asPlugError(err), `ctx_ids[${i}]`)));
  }
  return op(ctxId).then(
    () => OK,
    (err: unknown) => toStatus(asPlugError(err)),
  );
}

/** The caller's deadline and cancellation, as the registry needs them (read only if it waits). */
class GrpcCaller implements CallerContext {
  private cancels: CancelListeners | undefined;

  constructor(private readonly call: ServerUnaryCall<unknown, unknown>) {}

  get deadline(): number {
    const deadline = this.call.getDeadline();
    return deadline instanceof Date ? deadline.getTime() : deadline;
  }

  isCancelled(): boolean {
    return this.call.cancelled;
  }

  onCancel(listener: () => void): () => void {
    this.cancels ??= new CancelListeners(this.call);
    return this.cancels.add(listener);
  }
}

/** The ctxs of an answer that never reached its caller are released at once, not left to --ctx-ttl. */
function releaseIfUndelivered(registry: Registry, call: ServerUnaryCall<unknown, unknown>, ctxIds: readonly string[]): void {
  if (ctxIds.length === 0) return;
  onUndelivered(call, () => {
    for (const ctxId of ctxIds) void registry.destroyCtx(ctxId).catch(() => undefined);
  });
}

function callerOf(call: ServerUnaryCall<unknown, unknown>): CallerContext {
  return new GrpcCaller(call);
}

function wireInfo(info: ProviderInfo): WireProviderInfo {
  return {
    type: info.type,
    kind: info.kind === 'remote' ? ProviderKind.PROVIDER_KIND_REMOTE : ProviderKind.PROVIDER_KIND_BUILTIN,
    maintainedIfaceOptions: [...info.maintainedIfaceOptions],
    open: info.open,
    instanceId: info.instanceId,
    endpoint: info.endpoint,
    health: !info.health.serving
      ? ProviderHealth.PROVIDER_HEALTH_DOWN
      : info.health.hardware?.degraded === true
        ? ProviderHealth.PROVIDER_HEALTH_DEGRADED
        : ProviderHealth.PROVIDER_HEALTH_SERVING,
    healthReason: info.health.reason,
    healthMessage: info.health.message,
  };
}

export { VifPlugService };
