/**
 * The rules provider-check holds a provider to, in the order it checks
 * them: each with its stable name, what it checks, and the sentence of
 * proto/vifplug/provider/v1/provider.proto (or, for the endpoint, of
 * vifplug.v1's Register) it comes from. Pure data: the
 * checks themselves are in checks.ts, the docs' table of rules is made from
 * this list.
 */
import type { Capabilities } from '../gen/vifplug/provider/v1/provider';

export interface Rule {
  /** Stable, kebab-case: scripts and docs name rules by it. */
  readonly name: string;
  /** What the kit does and what must hold. */
  readonly checks: string;
  /** The contract's words it comes from (provider.proto, or the docs it points to). */
  readonly source: string;
  /** Checked only when GetInfo announces this capability; SKIP otherwise. */
  readonly capability?: keyof Capabilities;
}

export const RULES = [
  {
    name: 'endpoint-usable',
    checks: 'The endpoint is one vifplugd would dial: a unix socket (not a file or a symlink) in a directory only its owner can write, or TCP reached over TLS.',
    source: 'vifplug.v1 Register: "Endpoints: "unix:///abs/path.sock" (the socket\'s directory and its parents must not be writable by others), or "HOST:PORT" when the daemon was given --provider-tls-ca (TCP only with TLS)."',
  },
  {
    name: 'health-serving',
    checks: 'grpc.health.v1.Health/Check of service "vifplug.provider.v1.Provider" answers SERVING; SKIP when the provider serves no Health (vifplugd then probes it with GetInfo).',
    source: 'Health: "vifplugd probes each provider ... with grpc.health.v1.Health/Check on service "vifplug.provider.v1.Provider", or, if the provider does not serve Health, with GetInfo."',
  },
  {
    name: 'get-info-answers',
    checks: 'GetInfo answers, within the timeout, a valid GetInfoResponse.',
    source: 'GetInfo: "Required."',
  },
  {
    name: 'get-info-type-matches',
    checks: 'GetInfo names the type given with --type, and that type follows the type-name rule.',
    source: 'GetInfoResponse.type: "1 to 64 characters of [A-Za-z0-9_.-]. Register with another type is refused (PROVIDER_TYPE_MISMATCH)."',
  },
  {
    name: 'get-info-api-version',
    checks: 'GetInfo lists a provider API version this vifplugd speaks ("v1").',
    source: 'API version: "A provider that speaks none of vifplugd\'s versions is refused with PROVIDER_API_UNSUPPORTED."',
  },
  {
    name: 'get-info-well-formed',
    checks: 'GetInfo\'s maintained_iface_options are interface option keys an answer may carry, without repeats; its capabilities are a Capabilities message (absent: none announced).',
    source: 'GetInfoResponse.maintained_iface_options: "Interface option keys the provider owns"; Capabilities: "What the provider can do besides the required RPCs"',
  },
  {
    name: 'init-succeeds',
    checks: 'Init with the API version chosen from GetInfo answers OK (or UNIMPLEMENTED), twice.',
    source: 'Init: "An error refuses the registration ... Idempotent."',
  },
  {
    name: 'open-succeeds',
    checks: 'Open of an instance id answers OK (or UNIMPLEMENTED), and again for the same id.',
    source: 'Open: "An error refuses the open (PROVIDER_OPEN_FAILED). Idempotent for the same instance_id."',
  },
  {
    name: 'create-plugs',
    checks: 'PreparePort of a CREATE with the lport options of --option answers plug = true, within the timeout.',
    source: 'PreparePort: "For OP_TYPE_CREATE, plug = true asks the controller to create or update the interface described by ctx_out ... Required."',
  },
  {
    name: 'create-answer-within-rules',
    checks: 'That CREATE answer is one vifplugd takes at its boundary: an interface name, type and options OVS and the kernel accept, a handle of at most 4096 bytes.',
    source: '"Limits vifplugd enforces on answers: a handle of at most 4096 bytes; names, types and reasons as in vifplug.v1 ...; at most 512 interface options, keys 256 and values 4096 characters."',
  },
  {
    name: 'create-repeatable',
    checks: 'The same CREATE asked again answers the same interface (name, type, options).',
    source: 'PreparePort: "Must be cheap and side-effect free, apart from what handle refers to: controllers call it for every plugged port on every iteration."',
  },
  {
    name: 'finish-accepts-answer',
    checks: 'FinishPort with the CREATE\'s ctx_in, its answer\'s ctx_out and handle answers OK (or UNIMPLEMENTED).',
    source: 'FinishPort: "the controller committed the change prepared for ctx_in"; FinishPortRequest: "The PreparePort answer\'s ctx_out ... The PreparePort answer\'s handle."',
  },
  {
    name: 'destroy-accepts-answer',
    checks: 'DestroyPortCtx with the same ctx_in, ctx_out and handle answers OK (or UNIMPLEMENTED).',
    source: 'PreparePort: "Whatever a positive CREATE answer holds is released by DestroyPortCtx"',
  },
  {
    name: 'destroy-idempotent',
    checks: 'DestroyPortCtx of that ctx again answers OK.',
    source: 'DestroyPortCtx: "Idempotent: a handle the provider does not know is OK."',
  },
  {
    name: 'unknown-handle-accepted',
    checks: 'FinishPort and DestroyPortCtx with a handle the provider never answered answer OK.',
    source: 'FinishPort, DestroyPortCtx: "Idempotent: a handle the provider does not know is OK."',
  },
  {
    name: 'earlier-session-ctx-accepted',
    checks: 'A ctx prepared before a new session (Init, Open) is finished and destroyed OK in the new one.',
    source: 'Sessions: "Ctxs prepared in an earlier session stay live in vifplugd and may still be finished and destroyed: FinishPort and DestroyPortCtx for a handle the provider does not know must succeed."',
  },
  {
    name: 'remove-answers',
    checks: 'PreparePort of a REMOVE of the interface the CREATE named answers within the boundary\'s rules: plug = true, or a veto (plug = false) with a reason, or an error with a listed code and a reason.',
    source: 'PreparePort: "for OP_TYPE_REMOVE, plug = true lets it remove the interface (false vetoes)."',
  },
  {
    name: 'remove-finish-accepted',
    checks: 'FinishPort of that REMOVE (its handle, no ctx_out) answers OK (or UNIMPLEMENTED); SKIP when the REMOVE was not answered plug = true.',
    source: 'PreparePort: "a REMOVE answer\'s [holdings are released] by FinishPort"; FinishPortRequest.ctx_out: "absent for a REMOVE."',
  },
  {
    name: 'decline-has-reason',
    checks: 'A CREATE it will not plug (no lport options, or those of --decline-option) is declined with an UPPER_SNAKE decline_reason and a decline_message, or refused with a listed code and a reason; SKIP when it plugs it.',
    source: 'PreparePort: "plug = false must carry decline_reason and decline_message."; Errors: "a status without a reason ... is a provider bug"',
  },
  {
    name: 'malformed-request-refused',
    checks: 'A PreparePort without ctx_in, one whose op_type is OP_TYPE_UNSPECIFIED, and bytes that are no PreparePortRequest are each answered INVALID_ARGUMENT with a reason, and the provider answers GetInfo afterwards.',
    source: 'Errors: "A provider answers a failure with a gRPC status and a google.rpc.ErrorInfo (... an UPPER_SNAKE reason)"; "INVALID_ARGUMENT the port\'s options are malformed."',
  },
  {
    name: 'cancel-keeps-serving',
    checks: 'PreparePort calls cancelled under way end CANCELLED (or with an answer sent before the cancel, then released), and the provider then answers GetInfo and a CREATE.',
    source: 'Deadlines and cancellation: "When the controller cancels ... vifplugd cancels the call and will not use its answer: a provider that allocated something for a PreparePort it could not answer in time releases it."',
  },
  {
    name: 'deadline-ends-call',
    checks: 'A PreparePort with a 100 ms deadline ends by it, with an answer or DEADLINE_EXCEEDED and no other status, and the provider then answers GetInfo.',
    source: 'Deadlines and cancellation: "Every call carries a gRPC deadline ... less when the controller that caused the call has less time left."',
  },
  {
    name: 'prepare-ports-in-order',
    checks: 'PreparePorts of a CREATE, a CREATE it declines, a REMOVE and a malformed port answers one result per port, in request order, each what PreparePort answers for that port (the malformed one an INVALID_ARGUMENT error).',
    source: 'PreparePorts: "Each port gets its own answer or error, in request order; one port\'s failure does not fail the others ... The same rules as PreparePort hold for each answer."',
    capability: 'preparePorts',
  },
  {
    name: 'port-stream-answers-by-id',
    checks: 'Three PreparePorts sent at once on one PortStream are each answered under its own id with what PreparePort answers for that port, and the stream stays open.',
    source: 'PortStream: "The provider answers each with a PortStreamResponse of the same id, in any order ... each answer follows PreparePort\'s rules"',
    capability: 'portStream',
  },
  {
    name: 'port-stream-cancel-by-id',
    checks: 'A call on the PortStream cancelled by id under way, and one whose timeout_ms runs out, leave the stream open: the next call on it is answered.',
    source: 'PortStream: "vifplugd sends cancel with that id and will not use the answer: the provider treats it as a cancelled PreparePort ... Answers to unknown ids are ignored."',
    capability: 'portStream',
  },
  {
    name: 'watch-first-message',
    checks: 'Watch, opened once GetInfo announced it, sends its first message at once (within the timeout).',
    source: 'Watch: "a first message at once, then one whenever that view changed"',
    capability: 'watch',
  },
  {
    name: 'list-representors-answers',
    checks: 'ListRepresentors answers, each representor with a devlink flavour and a source vifplugd knows.',
    source: 'Representor.flavour: "physical", "pcipf", "pcivf", "pcisf" or "virtual"; source: "devlink" or "sysfs"',
    capability: 'listRepresentors',
  },
  {
    name: 'run-answers',
    checks: 'Run of the instance answers (changed or not, or UNIMPLEMENTED) within the timeout.',
    source: 'Run: "Must be bounded in time."',
  },
  {
    name: 'watch-stays-open',
    checks: 'The Watch stream, opened once GetInfo announced it, is still open once every other call was made.',
    source: 'Watch: "a stream that breaks marks the provider down ... The stream never ends on its own."',
    capability: 'watch',
  },
  {
    name: 'close-idempotent',
    checks: 'Close of the instance answers OK (or UNIMPLEMENTED), again for the same id, and for an id it never opened.',
    source: 'Close: "Idempotent: an unknown instance_id is OK."',
  },
  {
    name: 'session-destroy-succeeds',
    checks: 'Destroy, once the instance is closed, answers OK (or UNIMPLEMENTED).',
    source: 'Destroy: "called when the type is unregistered, never while an instance is open. An error keeps the type registered"',
  },
  {
    name: 'get-info-stable',
    checks: 'GetInfo answers the same type, API versions, capabilities and maintained options as at the start.',
    source: 'Health: "While a provider is down (... a changed type or API version) every call to it fails"; GetInfo: "Side-effect free"',
  },
  {
    name: 'still-serving',
    checks: 'After all of it, Health (if served) is SERVING, and a new session (Init, Open) plugs the CREATE again, which is then released and closed.',
    source: 'Sessions: "it starts a new session every time it (re)connects: GetInfo and the checks, Init, then Open again"',
  },
] as const satisfies readonly Rule[];

export type RuleName = (typeof RULES)[number]['name'];
