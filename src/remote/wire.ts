/**
 * Conversions between the provider contract (src/registry/provider.ts) and
 * the messages of vifplug.provider.v1, for both ends: the daemon calling a
 * remote provider and the SDK serving one, with the provider API's own
 * facts (batch limit, versions, service name, reason syntax) and the check
 * of a PreparePort answer.
 *
 * Pure: no I/O and no state; both ends read the same facts from here.
 */
import * as wire from '../gen/vifplug/provider/v1/provider';
import { NO_OPTIONS, type OpType, type PortCtxIn, type PortCtxOut, type Representor } from '../registry';
import { LIMITS } from '../server/limits';

/** Largest PreparePort handle the daemon keeps per ctx. */
export const MAX_HANDLE_BYTES = 4096;

/** Ports in one PreparePorts call to a provider. */
export const MAX_BATCH = 1024;

/** The provider API versions this daemon speaks, preferred first. */
export const API_VERSIONS: readonly string[] = ['v1'];

/** The service name under which a provider reports its health. */
export const PROVIDER_SERVICE = 'vifplug.provider.v1.Provider';

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]{0,62}$/;

export function isReason(value: string): boolean {
  return UPPER_SNAKE.test(value);
}

export function toWireOpType(op: OpType): wire.OpType {
  return op === 'create' ? wire.OpType.OP_TYPE_CREATE : wire.OpType.OP_TYPE_REMOVE;
}

/** The maps are only read by the encoder: no copies. */
export function toWireCtxIn(ctxIn: PortCtxIn): wire.PortCtxIn {
  return {
    opType: toWireOpType(ctxIn.opType),
    useDpdk: ctxIn.useDpdk,
    lportName: ctxIn.lportName,
    lportOptions: ctxIn.lportOptions as Map<string, string>,
    ifaceName: ctxIn.ifaceName,
    ifaceType: ctxIn.ifaceType,
    ifaceOptions: ctxIn.ifaceOptions as Map<string, string>,
  };
}

export function toWireCtxOut(out: PortCtxOut | undefined): wire.PortCtxOut | undefined {
  if (out === undefined) return undefined;
  return { name: out.name, type: out.type, ifaceOptions: out.ifaceOptions as Map<string, string> };
}

/** What a provider receives; undefined when the message breaks the API's rules. */
export function fromWireCtxIn(w: wire.PortCtxIn | undefined): PortCtxIn | undefined {
  if (w === undefined) return undefined;
  let opType: OpType;
  if (w.opType === wire.OpType.OP_TYPE_CREATE) opType = 'create';
  else if (w.opType === wire.OpType.OP_TYPE_REMOVE) opType = 'remove';
  else return undefined;
  return {
    opType,
    useDpdk: w.useDpdk,
    lportName: w.lportName,
    lportOptions: shared(w.lportOptions),
    ifaceName: w.ifaceName,
    ifaceType: w.ifaceType,
    ifaceOptions: shared(w.ifaceOptions),
  };
}

export function fromWireCtxOut(w: wire.PortCtxOut | undefined): PortCtxOut | undefined {
  if (w === undefined) return undefined;
  return { name: w.name, type: w.type, ifaceOptions: shared(w.ifaceOptions) };
}

function shared(map: Map<string, string>): ReadonlyMap<string, string> {
  return map.size === 0 ? NO_OPTIONS : map;
}

/** A provider's PreparePort answer, checked; what the daemon keeps of it. */
export type CheckedAnswer =
  | { readonly plug: true; readonly out: PortCtxOut | undefined; readonly handle: Buffer }
  | { readonly plug: false; readonly reason: string; readonly message: string };

/**
 * Checks a PreparePort answer against the API's rules; returns what breaks
 * them, or the answer in contract terms. The limits are the request limits
 * of vifplug.v1: what the daemon would refuse from a controller it does not
 * take from a provider either.
 */
export function checkPrepareAnswer(op: OpType, res: wire.PreparePortResponse): CheckedAnswer | string {
  if (!res.plug) {
    if (!isReason(res.declineReason)) return `declined with decline_reason "${clip(res.declineReason)}", which is not an UPPER_SNAKE reason`;
    if (res.declineMessage === '' || res.declineMessage.length > LIMITS.maxNameLength) {
      return 'declined without a decline_message of 1-1024 characters';
    }
    return { plug: false, reason: res.declineReason, message: res.declineMessage };
  }
  if (res.handle.length > MAX_HANDLE_BYTES) return `answered a handle of ${res.handle.length} bytes; at most ${MAX_HANDLE_BYTES}`;
  if (op === 'remove') return { plug: true, out: undefined, handle: res.handle };
  const out = res.ctxOut;
  if (out === undefined || out.name === '') return 'accepted a create without ctx_out.name';
  if (Buffer.byteLength(out.name) > LIMITS.maxNameLength) return `answered an interface name of ${Buffer.byteLength(out.name)} bytes`;
  if (out.type.length > LIMITS.maxNameLength) return `answered an interface type of ${out.type.length} characters`;
  const bad = checkOptions(out.ifaceOptions);
  if (bad !== undefined) return bad;
  return { plug: true, out: { name: out.name, type: out.type, ifaceOptions: shared(out.ifaceOptions) }, handle: res.handle };
}

function checkOptions(options: Map<string, string>): string | undefined {
  if (options.size > LIMITS.maxOptions) return `answered ${options.size} iface_options; at most ${LIMITS.maxOptions}`;
  for (const [key, value] of options) {
    if (key === '' || key.length > LIMITS.maxOptionKeyLength) return `answered an iface_options key of ${key.length} characters`;
    if (value.length > LIMITS.maxOptionValueLength) return `answered an iface_options value of ${value.length} characters`;
  }
  return undefined;
}

export function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** A representor for either API's message (vifplug.v1 and vifplug.provider.v1 spell it alike). */
export function toWireRepresentor(r: Representor): wire.Representor {
  return { ...r, lportOptions: new Map(r.lportOptions) };
}

export function fromWireRepresentor(r: wire.Representor): Representor {
  return { ...r, source: r.source === 'devlink' ? 'devlink' : 'sysfs' };
}
