/**
 * How provider-check checks each rule of rules.ts: what it asks the
 * provider, and what must hold of the answers. Each check reads and leaves
 * what later ones need in the Run (GetInfo's answer, the instance, the
 * CREATE answer, the REMOVE answer, the Watch stream); which rule a check
 * needs to have passed, and the order, are run.ts's.
 */
import { status as Code } from '@grpc/grpc-js';

import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import { OpType as WireOpType, type GetInfoResponse, type PortCtxIn, type PortResult, type PreparePortResponse } from '../gen/vifplug/provider/v1/provider';
import { codeName } from '../api/status';
import { isProviderType } from '../api/validate';
import { API_VERSIONS, PROVIDER_SERVICE } from '../api/wire';
import { newId, PlugError } from '../registry';
import { ProviderCallError, type CallFailure } from '../remote/call-failure';
import { checkSocket } from '../remote/endpoint';
import { PortStreamBroken } from '../remote/port-stream';
import { ProviderErrors } from '../remote/provider-errors';
import { answerProblems, optionKeyProblems } from './answers';
import {
  describeAnswer,
  describeOutcome,
  fromPortResult,
  fromReply,
  opOf,
  outcomeProblems,
  sameInterface,
  sameOutcome,
  shownName,
  shownOptions,
  type PortOutcome,
} from './outcomes';
import { Cancel, describeFailure, isServing, printable, seconds, type Held, type ProviderUnderCheck, type Reply, type WatchFollower } from './provider-under-check';
import type { RuleName } from './rules';

export type Verdict = { readonly result: 'PASS' | 'FAIL' | 'SKIP'; readonly saw: string };

export const pass = (saw: string): Verdict => ({ result: 'PASS', saw });
export const fail = (saw: string): Verdict => ({ result: 'FAIL', saw });
export const skip = (saw: string): Verdict => ({ result: 'SKIP', saw });

/** The deadline of deadline-ends-call, and the time a PortStream call gets in port-stream-cancel-by-id. */
export const SHORT_DEADLINE_MS = 100;
/** How late past its deadline a call may end: the client ends it, on a loaded host a little late. */
const DEADLINE_SLACK_MS = 1000;

/** What one check leaves for the next ones. */
export class Run {
  info: GetInfoResponse | undefined;
  apiVersion = API_VERSIONS[0]!;
  readonly instanceId = newId();
  /** create-plugs' CREATE and its answer. */
  created: Held | undefined;
  /** remove-answers' REMOVE and its answer, if it was answered. */
  removed: { readonly ctxIn: PortCtxIn; readonly answer: PreparePortResponse } | undefined;
  watch: WatchFollower | undefined;
  /** Whether Health answered a status for the provider service. */
  servesHealth = false;
  readonly errors: ProviderErrors;

  constructor(readonly provider: ProviderUnderCheck) {
    this.errors = new ProviderErrors(provider.settings.type, provider.settings.endpoint, provider.timeoutMs, () => 0);
  }

  get settings() {
    return this.provider.settings;
  }

  /** A CREATE of `lport` with `options`. */
  createIn(lportName: string, options: ReadonlyMap<string, string>): PortCtxIn {
    return {
      opType: WireOpType.OP_TYPE_CREATE,
      useDpdk: this.settings.useDpdk,
      lportName,
      lportOptions: new Map(options),
      ifaceName: '',
      ifaceType: '',
      ifaceOptions: new Map(),
    };
  }

  /** A REMOVE of the interface the CREATE of create-plugs named. */
  removeIn(lportName: string): PortCtxIn {
    const out = this.created?.answer.ctxOut;
    return {
      opType: WireOpType.OP_TYPE_REMOVE,
      useDpdk: this.settings.useDpdk,
      lportName,
      lportOptions: new Map(this.settings.plugOptions),
      ifaceName: out?.name ?? '',
      ifaceType: out?.type ?? '',
      ifaceOptions: new Map(out?.ifaceOptions ?? []),
    };
  }

  /** PreparePort of one port; a positive CREATE answer is held (`held`) until released. */
  async prepare(ctxIn: PortCtxIn, options: { deadlineMs?: number; cancel?: Cancel } = {}): Promise<{ reply: Reply<PreparePortResponse>; held: Held | undefined }> {
    const reply = await this.provider.call('preparePort', { instanceId: this.instanceId, ctxIn }, options);
    return { reply, held: reply.ok ? this.keep(ctxIn, reply.value) : undefined };
  }

  /** Holds a positive CREATE answer, to be released. */
  keep(ctxIn: PortCtxIn, answer: PreparePortResponse): Held | undefined {
    return answer.plug && opOf(ctxIn) === 'create' ? this.provider.hold(ctxIn, answer) : undefined;
  }

  /** Releases a held answer now (its outcome is another rule's business). */
  async release(held: Held | undefined): Promise<void> {
    if (held !== undefined) await this.provider.release(this.instanceId, held);
  }

  /** The outcome of each port by unary PreparePort, what the batch and stream routes must agree with; positive CREATEs released. */
  async oracle(ports: readonly PortCtxIn[]): Promise<PortOutcome[]> {
    return Promise.all(
      ports.map(async (ctxIn) => {
        const { reply, held } = await this.prepare(ctxIn);
        await this.release(held);
        return fromReply(reply, this.provider.timeoutMs);
      }),
    );
  }

  /** The three ports the batch and stream routes are asked about: a CREATE that plugs, one that is declined, a REMOVE. */
  samplePorts(tag: string): PortCtxIn[] {
    const lport = this.settings.lportName;
    return [this.createIn(`${lport}-${tag}0`, this.settings.plugOptions), this.createIn(`${lport}-${tag}1`, this.settings.declineOptions), this.removeIn(`${lport}-${tag}2`)];
  }

  failure(reply: Reply<unknown>): string {
    return reply.ok ? 'OK' : describeFailure(reply.failure, this.provider.timeoutMs);
  }
}

/** A call the contract lets a provider leave out: OK, or UNIMPLEMENTED ("nothing to do"); undefined when neither. */
function optionalAnswer(reply: Reply<unknown>): 'OK' | 'UNIMPLEMENTED' | undefined {
  if (reply.ok) return 'OK';
  return reply.failure.kind === 'unimplemented' ? 'UNIMPLEMENTED' : undefined;
}

/** Several optional calls, e.g. an idempotent one made twice: what each answered, or the first that broke. */
function optionalCalls(what: readonly string[], replies: readonly Reply<unknown>[], run: Run): Verdict {
  for (let i = 0; i < replies.length; i++) {
    if (optionalAnswer(replies[i]!) === undefined) return fail(`${what[i]}: ${run.failure(replies[i]!)}`);
  }
  const answers = replies.map((r) => optionalAnswer(r)!);
  const unimplemented = answers.includes('UNIMPLEMENTED') ? ' (UNIMPLEMENTED: nothing to do)' : '';
  const same = answers.every((a) => a === answers[0]);
  return pass(`${what.join(', ')}: ${answers.length === 1 ? answers[0] : same ? `each ${answers[0]}` : answers.join(', ')}${unimplemented}`);
}

function announced(info: GetInfoResponse): string {
  const caps = info.capabilities;
  const names = caps === undefined ? [] : Object.entries(caps).filter(([, on]) => on === true).map(([name]) => snake(name));
  return names.length === 0 ? 'none' : names.join(', ');
}

/** capabilities.portStream as the proto spells it: port_stream. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export interface Check {
  /** Rules that must have passed for this one to be checked (SKIP otherwise). */
  readonly needs?: readonly RuleName[];
  run(run: Run): Promise<Verdict>;
}

export const CHECKS: Record<RuleName, Check> = {
  'endpoint-usable': {
    async run({ provider }) {
      const { address, settings } = provider;
      if (address.kind === 'tcp') return pass(`${settings.endpoint} is TCP, reached over TLS`);
      try {
        await checkSocket(address.path);
      } catch (err) {
        if (err instanceof PlugError) return fail(`${err.reason}: ${err.message}`);
        throw err;
      }
      return pass(`${settings.endpoint} is a socket in a directory only its owner can write`);
    },
  },

  'health-serving': {
    async run(run) {
      const reply = await run.provider.health();
      if (!reply.ok) return fail(`Health/Check "${PROVIDER_SERVICE}": ${run.failure(reply)}`);
      if (reply.value === undefined) return skip(`it serves no grpc.health.v1.Health status for "${PROVIDER_SERVICE}"; vifplugd probes it with GetInfo`);
      run.servesHealth = true;
      if (!isServing(reply.value)) return fail(`Health/Check "${PROVIDER_SERVICE}" answered ${HealthCheckResponse_ServingStatus[reply.value] ?? reply.value}; vifplugd shows it down`);
      return pass(`Health/Check "${PROVIDER_SERVICE}": SERVING`);
    },
  },

  'get-info-answers': {
    async run(run) {
      const reply = await run.provider.call('getInfo', {});
      if (!reply.ok) return fail(`GetInfo: ${run.failure(reply)}`);
      const info = reply.value;
      run.info = info;
      // Followed from now on, as vifplugd follows it for as long as a session lasts: watch-stays-open checks that it lasted.
      if (info.capabilities?.watch === true) run.watch = run.provider.watch();
      const version = info.providerVersion === '' ? '' : `, provider version "${printable(info.providerVersion, 64)}"`;
      return pass(`type "${printable(info.type, 80)}", API versions ${printable(info.apiVersions.join(','), 80) || '(none)'}, capabilities ${announced(info)}${version}`);
    },
  },

  'get-info-type-matches': {
    needs: ['get-info-answers'],
    async run({ info, settings }) {
      const served = info!.type;
      if (!isProviderType(served)) return fail(`GetInfo names type "${printable(served, 80)}", which breaks the type-name rule: 1-64 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit`);
      if (served !== settings.type) return fail(`GetInfo names type "${served}", not "${settings.type}"; vifplugd refuses to register it as "${settings.type}" (PROVIDER_TYPE_MISMATCH)`);
      return pass(`GetInfo names type "${served}"`);
    },
  },

  'get-info-api-version': {
    needs: ['get-info-answers'],
    async run(run) {
      const offered = run.info!.apiVersions;
      const version = API_VERSIONS.find((v) => offered.includes(v));
      if (version === undefined) return fail(`it speaks ${printable(offered.join(', '), 80) || 'no version'}; vifplugd speaks ${API_VERSIONS.join(', ')} and refuses it (PROVIDER_API_UNSUPPORTED)`);
      run.apiVersion = version;
      return pass(`it speaks ${version}, as vifplugd does`);
    },
  },

  'get-info-well-formed': {
    needs: ['get-info-answers'],
    async run({ info }) {
      const keys = info!.maintainedIfaceOptions;
      const problems = optionKeyProblems(keys);
      const repeated = [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
      if (repeated.length > 0) problems.push(`maintained_iface_options names ${repeated.map((k) => `"${printable(k, 64)}"`).join(', ')} more than once`);
      if (problems.length > 0) return fail(problems.join('; '));
      const maintained = keys.length === 0 ? 'no maintained_iface_options' : `maintained_iface_options ${keys.join(',')}`;
      return pass(`${maintained}; capabilities ${info!.capabilities === undefined ? 'absent (none announced)' : announced(info!)}`);
    },
  },

  'init-succeeds': {
    async run(run) {
      const request = { apiVersion: run.apiVersion };
      const first = await run.provider.call('init', request);
      const second = await run.provider.call('init', request);
      return optionalCalls([`Init ${run.apiVersion}`, 'Init again'], [first, second], run);
    },
  },

  'open-succeeds': {
    async run(run) {
      const request = { instanceId: run.instanceId };
      const first = await run.provider.call('open', request);
      const second = await run.provider.call('open', request);
      return optionalCalls(['Open', 'Open of the same instance again'], [first, second], run);
    },
  },

  'create-plugs': {
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      const { reply, held } = await run.prepare(run.createIn(lportName, plugOptions));
      const asked = `CREATE of ${lportName} with ${shownOptions(plugOptions)}`;
      if (!reply.ok) return fail(`${asked}: ${run.failure(reply)}`);
      if (!reply.value.plug) return fail(`${asked}: ${describeAnswer('create', reply.value)}; give --option KEY=VALUE with lport options it plugs`);
      run.created = held;
      return pass(`${asked}: ${describeAnswer('create', reply.value)}`);
    },
  },

  'create-answer-within-rules': {
    needs: ['create-plugs'],
    async run({ created }) {
      const { answer } = created!;
      const problems = answerProblems('create', answer);
      if (problems.length > 0) return fail(problems.map((p) => printable(p, 300)).join('; '));
      return pass(`${describeAnswer('create', answer)}, handle of ${answer.handle.length} bytes: vifplugd takes it`);
    },
  },

  'create-repeatable': {
    needs: ['create-plugs'],
    async run(run) {
      const first = run.created!;
      const { reply, held } = await run.prepare(first.ctxIn);
      await run.release(held);
      if (!reply.ok) return fail(`the same CREATE again: ${run.failure(reply)}`);
      if (!reply.value.plug || !sameInterface(first.answer, reply.value)) {
        return fail(`first ${describeAnswer('create', first.answer)}, then ${describeAnswer('create', reply.value)}`);
      }
      return pass(`the same CREATE again: ${describeAnswer('create', reply.value)} again`);
    },
  },

  'finish-accepts-answer': {
    needs: ['create-plugs'],
    async run(run) {
      const { ctxIn, answer } = run.created!;
      const reply = await run.provider.call('finishPort', { instanceId: run.instanceId, ctxIn, ctxOut: answer.ctxOut, handle: answer.handle });
      return optionalCalls(['FinishPort with the answer and its handle'], [reply], run);
    },
  },

  'destroy-accepts-answer': {
    needs: ['create-plugs'],
    async run(run) {
      const reply = await run.provider.release(run.instanceId, run.created!);
      return optionalCalls(['DestroyPortCtx with the answer and its handle'], [reply], run);
    },
  },

  'destroy-idempotent': {
    needs: ['destroy-accepts-answer'],
    async run(run) {
      const { ctxIn, answer } = run.created!;
      const reply = await run.provider.call('destroyPortCtx', { instanceId: run.instanceId, ctxIn, ctxOut: answer.ctxOut, handle: answer.handle });
      return optionalCalls(['DestroyPortCtx of the same ctx again'], [reply], run);
    },
  },

  'unknown-handle-accepted': {
    needs: ['create-plugs'],
    async run(run) {
      const { ctxIn, answer } = run.created!;
      const request = { instanceId: run.instanceId, ctxIn, ctxOut: answer.ctxOut, handle: Buffer.from(`provider-check:never-answered:${newId()}`) };
      const finished = await run.provider.call('finishPort', request);
      const destroyed = await run.provider.call('destroyPortCtx', request);
      return optionalCalls(['FinishPort with a handle it never answered', 'DestroyPortCtx with it'], [finished, destroyed], run);
    },
  },

  'earlier-session-ctx-accepted': {
    needs: ['create-plugs'],
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      const ctxIn = run.createIn(`${lportName}-earlier`, plugOptions);
      const { reply, held } = await run.prepare(ctxIn);
      if (!reply.ok) return fail(`CREATE before the new session: ${run.failure(reply)}`);
      if (held === undefined) return fail(`CREATE before the new session: ${describeAnswer('create', reply.value)}`);
      const init = await run.provider.call('init', { apiVersion: run.apiVersion });
      if (optionalAnswer(init) === undefined) return fail(`Init: ${run.failure(init)}`);
      const open = await run.provider.call('open', { instanceId: run.instanceId });
      if (optionalAnswer(open) === undefined) return fail(`Open after Init: ${run.failure(open)}`);
      const finished = await run.provider.call('finishPort', { instanceId: run.instanceId, ctxIn, ctxOut: reply.value.ctxOut, handle: reply.value.handle });
      const destroyed = await run.provider.release(run.instanceId, held);
      return optionalCalls(['FinishPort after Init and Open of a ctx prepared before', 'DestroyPortCtx of it'], [finished, destroyed], run);
    },
  },

  'remove-answers': {
    needs: ['create-plugs'],
    async run(run) {
      const ctxIn = run.removeIn(run.settings.lportName);
      const { reply } = await run.prepare(ctxIn);
      const asked = `REMOVE of ${shownName(ctxIn.ifaceName)}`;
      const outcome = fromReply(reply, run.provider.timeoutMs);
      const problems = outcomeProblems('remove', outcome);
      if (problems.length > 0) return fail(`${asked}: ${problems.join('; ')}`);
      if (reply.ok) run.removed = { ctxIn, answer: reply.value };
      const refused = outcome.kind === 'error' ? 'refused ' : '';
      return pass(`${asked}: ${refused}${describeOutcome('remove', outcome)}`);
    },
  },

  'remove-finish-accepted': {
    needs: ['remove-answers'],
    async run(run) {
      const removed = run.removed;
      if (removed === undefined || !removed.answer.plug) return skip('the REMOVE was not answered plug = true: there is nothing to finish');
      const reply = await run.provider.call('finishPort', { instanceId: run.instanceId, ctxIn: removed.ctxIn, ctxOut: undefined, handle: removed.answer.handle });
      return optionalCalls(['FinishPort of the REMOVE with its handle'], [reply], run);
    },
  },

  'decline-has-reason': {
    async run(run) {
      const { lportName, declineOptions } = run.settings;
      const { reply, held } = await run.prepare(run.createIn(`${lportName}-declined`, declineOptions));
      const asked = `CREATE with ${shownOptions(declineOptions)}`;
      if (reply.ok && reply.value.plug) {
        await run.release(held);
        return skip(`it plugs a ${asked}: nothing was declined; name lport options it declines with --decline-option KEY=VALUE`);
      }
      const outcome = fromReply(reply, run.provider.timeoutMs);
      const problems = outcomeProblems('create', outcome);
      if (problems.length > 0) return fail(`${asked}: ${problems.map((p) => printable(p, 300)).join('; ')}`);
      return pass(`${asked}: ${outcome.kind === 'error' ? 'refused ' : ''}${describeOutcome('create', outcome)}`);
    },
  },

  'malformed-request-refused': {
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      const cases: [string, Promise<Reply<PreparePortResponse>>][] = [
        ['without ctx_in', run.provider.call('preparePort', { instanceId: run.instanceId, ctxIn: undefined })],
        ['with op_type OP_TYPE_UNSPECIFIED', run.provider.call('preparePort', { instanceId: run.instanceId, ctxIn: { ...run.createIn(`${lportName}-malformed`, plugOptions), opType: WireOpType.OP_TYPE_UNSPECIFIED } })],
        // Field 1 (instance_id) said to be 5 bytes long, and the message ends after 1.
        ['as bytes that are no PreparePortRequest', run.provider.raw(Buffer.from([0x0a, 0x05, 0x61]))],
      ];
      const problems: string[] = [];
      const reasons = new Set<string>();
      for (const [what, pending] of cases) {
        const reply = await pending;
        if (!reply.ok) {
          if (reply.failure.kind === 'answered' && reply.failure.code === INVALID_ARGUMENT) reasons.add(reply.failure.reason);
          else problems.push(`${what}: ${run.failure(reply)}`);
        } else {
          problems.push(`${what}: ${describeAnswer('create', reply.value)}`);
        }
      }
      const after = await run.provider.call('getInfo', {});
      if (!after.ok) problems.push(`then GetInfo: ${run.failure(after)}`);
      if (problems.length > 0) return fail(`a PreparePort ${problems.join('; ')}; each must be INVALID_ARGUMENT with a reason`);
      return pass(`a PreparePort ${cases.map(([what]) => what).join(', ')}: each INVALID_ARGUMENT (${[...reasons].join(', ')}); GetInfo answered afterwards`);
    },
  },

  'cancel-keeps-serving': {
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      // Cancelled at once, once the event loop turned, and after 1 to 50 ms: before the provider reads it, while it works on it, or after it answered.
      const after = (ms: number) => (c: Cancel) => void setTimeout(() => c.abort(), ms);
      const when: ((cancel: Cancel) => void)[] = [(c) => c.abort(), (c) => void setImmediate(() => c.abort()), after(1), after(5), after(20), after(50)];
      const problems: string[] = [];
      await Promise.all(
        when.map(async (schedule, i) => {
          const cancel = new Cancel();
          const pending = run.prepare(run.createIn(`${lportName}-cancelled${i}`, plugOptions), { cancel });
          schedule(cancel);
          const { reply, held } = await pending;
          // Answered before the cancel took effect: released, as vifplugd releases an answer nobody waits for.
          if (reply.ok) return run.release(held);
          if (reply.failure.kind === 'cancelled' || reply.failure.kind === 'answered') return;
          problems.push(`call ${i + 1}: ${run.failure(reply)}`);
        }),
      );
      if (problems.length > 0) return fail(`PreparePorts cancelled under way ended otherwise than CANCELLED or answered: ${problems.join('; ')}`);
      const info = await run.provider.call('getInfo', {});
      if (!info.ok) return fail(`after ${when.length} cancelled PreparePorts, GetInfo: ${run.failure(info)}`);
      const { reply, held } = await run.prepare(run.createIn(lportName, plugOptions));
      await run.release(held);
      const outcome = fromReply(reply, run.provider.timeoutMs);
      if (outcome.kind === 'broken') return fail(`after ${when.length} cancelled PreparePorts, a CREATE: ${outcome.what}`);
      return pass(`${when.length} PreparePorts cancelled under way ended CANCELLED (or answered first, then released); then GetInfo and a CREATE were answered`);
    },
  },

  'deadline-ends-call': {
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      const deadlineMs = Math.min(SHORT_DEADLINE_MS, run.provider.timeoutMs);
      const ctxIn = run.createIn(`${lportName}-deadline`, plugOptions);
      const started = Date.now();
      const { reply, held } = await run.prepare(ctxIn, { deadlineMs });
      const took = Date.now() - started;
      await run.release(held);
      const asked = `a PreparePort with a ${deadlineMs} ms deadline`;
      let ended: string;
      if (reply.ok) {
        ended = 'answered';
      } else if (reply.failure.kind === 'deadline') {
        ended = 'DEADLINE_EXCEEDED';
      } else if (reply.failure.kind === 'answered') {
        ended = codeName(reply.failure.code);
      } else {
        return fail(`${asked}: ${run.failure(reply)}`);
      }
      if (took > deadlineMs + DEADLINE_SLACK_MS) return fail(`${asked} ended ${took} ms after it was sent (${ended})`);
      const info = await run.provider.call('getInfo', {});
      if (!info.ok) return fail(`${asked} ended by it (${ended}), then GetInfo: ${run.failure(info)}`);
      return pass(`${asked} ended by it (${ended}); GetInfo answered afterwards`);
    },
  },

  'prepare-ports-in-order': {
    needs: ['create-plugs'],
    async run(run) {
      const ports = run.samplePorts('batch');
      const malformedPort: PortCtxIn = { ...run.createIn(`${run.settings.lportName}-batch3`, run.settings.plugOptions), opType: WireOpType.OP_TYPE_UNSPECIFIED };
      const expected = await run.oracle(ports);
      const reply = await run.provider.call('preparePorts', { instanceId: run.instanceId, ports: [...ports, malformedPort] });
      if (!reply.ok) return fail(`PreparePorts of 4 ports: ${reply.failure.kind === 'unimplemented' ? 'UNIMPLEMENTED, though GetInfo announces it' : run.failure(reply)}`);
      const { results } = reply.value;
      const outcomes = results.map((r) => fromPortResult('PreparePorts', r.result, run.errors));
      await Promise.all(results.map((r, i) => (r.result?.$case === 'prepared' && i < ports.length ? run.release(run.keep(ports[i]!, r.result.value)) : undefined)));
      if (results.length !== 4) return fail(`PreparePorts of 4 ports answered ${results.length} results`);
      const problems = compare(ports, expected, outcomes, 'PreparePort');
      const last = outcomes[3]!;
      if (!(last.kind === 'error' && last.code === INVALID_ARGUMENT)) problems.push(`port 4 (op_type OP_TYPE_UNSPECIFIED): ${describeOutcome('create', last)}, where INVALID_ARGUMENT is due`);
      if (problems.length > 0) return fail(problems.join('; '));
      return pass(`4 ports, 4 results in order: ${[...ports, malformedPort].map((port, i) => briefOutcome(port, outcomes[i]!)).join('; ')}`);
    },
  },

  'port-stream-answers-by-id': {
    needs: ['create-plugs'],
    async run(run) {
      const ports = run.samplePorts('stream');
      const expected = await run.oracle(ports);
      const stream = run.provider.portStream();
      const outcomes = await Promise.all(ports.map((ctxIn) => streamed(run, ctxIn, new Cancel(run.provider.timeoutMs))));
      const problems = compare(ports, expected, outcomes, 'PreparePort');
      if (!stream.open) problems.push(`the stream ${streamEnded(run)}`);
      if (problems.length > 0) return fail(problems.join('; '));
      return pass(`3 calls sent at once, each answered under its id: ${ports.map((port, i) => briefOutcome(port, outcomes[i]!)).join('; ')}; the stream stayed open`);
    },
  },

  'port-stream-cancel-by-id': {
    needs: ['create-plugs'],
    async run(run) {
      const { lportName, plugOptions } = run.settings;
      const stream = run.provider.portStream();
      const cancelled = new Cancel();
      const first = streamed(run, run.createIn(`${lportName}-streamcancel0`, plugOptions), cancelled);
      cancelled.abort();
      const shortMs = Math.min(SHORT_DEADLINE_MS, run.provider.timeoutMs);
      const timed = streamed(run, run.createIn(`${lportName}-streamcancel1`, plugOptions), new Cancel(shortMs));
      const problems: string[] = [];
      for (const [what, pending] of [['the call cancelled by id', first], [`the call given ${shortMs} ms`, timed]] as const) {
        const outcome = await pending;
        if (outcome.kind === 'broken' && outcome.failure?.kind !== 'cancelled') problems.push(`${what}: ${outcome.what}`);
      }
      if (!stream.open) return fail([...problems, `the stream ${streamEnded(run)}`].join('; '));
      const next = await streamed(run, run.createIn(`${lportName}-streamcancel2`, plugOptions), new Cancel(run.provider.timeoutMs));
      if (next.kind === 'broken') problems.push(`the next call on the stream: ${next.what}`);
      if (!stream.open) problems.push(`the stream ${streamEnded(run)}`);
      if (problems.length > 0) return fail(problems.join('; '));
      return pass(`a call cancelled by id and one whose ${shortMs} ms ran out left the stream open; the next call on it: ${describeOutcome('create', next)}`);
    },
  },

  'watch-first-message': {
    async run(run) {
      const watch = run.watch ?? run.provider.watch();
      run.watch = watch;
      await watch.first(run.provider.timeoutMs);
      const first = watch.messages[0];
      if (first !== undefined) return pass(`first message: generation ${first.generation}`);
      if (watch.ended !== undefined) return fail(`before any message: ${watch.ended}${watch.ended.includes('UNIMPLEMENTED') ? ', though GetInfo announces it' : ''}`);
      return fail(`no message within ${seconds(run.provider.timeoutMs)}`);
    },
  },

  'list-representors-answers': {
    async run(run) {
      const reply = await run.provider.call('listRepresentors', {});
      if (!reply.ok) return fail(`ListRepresentors: ${reply.failure.kind === 'unimplemented' ? 'UNIMPLEMENTED, though GetInfo announces it' : run.failure(reply)}`);
      const { representors } = reply.value;
      const problems = representors.flatMap((r, i) => {
        const which = `representor ${i + 1} (${r.netdev === '' ? 'no netdev' : `"${printable(r.netdev, 40)}"`})`;
        return [
          ...(FLAVOURS.includes(r.flavour) ? [] : [`${which}: flavour "${printable(r.flavour, 40)}" is none of ${FLAVOURS.join(', ')}`]),
          ...(SOURCES.includes(r.source) ? [] : [`${which}: source "${printable(r.source, 40)}" is none of ${SOURCES.join(', ')}`]),
        ];
      });
      if (problems.length > 0) return fail(problems.slice(0, 5).join('; '));
      return pass(`${representors.length} representor${representors.length === 1 ? '' : 's'}, each with a known flavour and source`);
    },
  },

  'run-answers': {
    async run(run) {
      const reply = await run.provider.call('run', { instanceId: run.instanceId });
      if (reply.ok) return pass(`Run: changed = ${reply.value.changed}`);
      return optionalCalls(['Run'], [reply], run);
    },
  },

  'watch-stays-open': {
    needs: ['watch-first-message'],
    async run({ watch }) {
      const last = watch!.messages[watch!.messages.length - 1]!;
      if (watch!.ended !== undefined) return fail(`the Watch stream ended during the check: ${watch!.ended}`);
      return pass(`still open after every other call, at generation ${last.generation}`);
    },
  },

  'close-idempotent': {
    async run(run) {
      // As vifplugd closes an instance only once every ctx it held was destroyed.
      await run.provider.releaseAll(run.instanceId);
      const first = await run.provider.call('close', { instanceId: run.instanceId });
      const second = await run.provider.call('close', { instanceId: run.instanceId });
      const unknown = await run.provider.call('close', { instanceId: newId() });
      return optionalCalls(['Close', 'Close again', 'Close of an id never opened'], [first, second, unknown], run);
    },
  },

  'session-destroy-succeeds': {
    async run(run) {
      return optionalCalls(['Destroy'], [await run.provider.call('destroy', {})], run);
    },
  },

  'get-info-stable': {
    needs: ['get-info-answers'],
    async run(run) {
      const reply = await run.provider.call('getInfo', {});
      if (!reply.ok) return fail(`GetInfo: ${run.failure(reply)}`);
      const [before, now] = [run.info!, reply.value];
      const changed = [
        before.type !== now.type ? `type "${printable(before.type, 64)}" became "${printable(now.type, 64)}"` : '',
        before.apiVersions.join(',') !== now.apiVersions.join(',') ? `API versions ${printable(before.apiVersions.join(','), 64)} became ${printable(now.apiVersions.join(','), 64)}` : '',
        announced(before) !== announced(now) ? `capabilities ${announced(before)} became ${announced(now)}` : '',
        before.maintainedIfaceOptions.join(',') !== now.maintainedIfaceOptions.join(',') ? 'maintained_iface_options changed' : '',
      ].filter((c) => c !== '');
      if (changed.length > 0) return fail(changed.join('; '));
      return pass('the same type, API versions, capabilities and maintained options as at the start');
    },
  },

  'still-serving': {
    async run(run) {
      const seen: string[] = [];
      if (run.servesHealth) {
        const health = await run.provider.health();
        if (!health.ok) return fail(`Health/Check: ${run.failure(health)}`);
        if (health.value === undefined || !isServing(health.value)) return fail(`Health/Check answered ${health.value === undefined ? 'no status' : HealthCheckResponse_ServingStatus[health.value]}`);
        seen.push('Health SERVING');
      }
      const info = await run.provider.call('getInfo', {});
      if (!info.ok) return fail(`GetInfo: ${run.failure(info)}`);
      seen.push('GetInfo answered');
      if (run.created === undefined) return pass(seen.join(', '));
      const instanceId = newId();
      const init = await run.provider.call('init', { apiVersion: run.apiVersion });
      if (optionalAnswer(init) === undefined) return fail(`${seen.join(', ')}; then Init: ${run.failure(init)}`);
      const open = await run.provider.call('open', { instanceId });
      if (optionalAnswer(open) === undefined) return fail(`${seen.join(', ')}; then Open: ${run.failure(open)}`);
      const ctxIn = run.createIn(run.settings.lportName, run.settings.plugOptions);
      const reply = await run.provider.call('preparePort', { instanceId, ctxIn });
      if (!reply.ok) return fail(`${seen.join(', ')}; then the CREATE: ${run.failure(reply)}`);
      if (!reply.value.plug) return fail(`${seen.join(', ')}; then the CREATE: ${describeAnswer('create', reply.value)}`);
      const released = await run.provider.release(instanceId, run.provider.hold(ctxIn, reply.value));
      const closed = await run.provider.call('close', { instanceId });
      const destroyed = await run.provider.call('destroy', {});
      for (const [what, r] of [['DestroyPortCtx', released], ['Close', closed], ['Destroy', destroyed]] as const) {
        if (optionalAnswer(r) === undefined) return fail(`${seen.join(', ')}; then ${what}: ${run.failure(r)}`);
      }
      return pass(`${seen.join(', ')}; a new session ${describeAnswer('create', reply.value)}, released and closed it`);
    },
  },
};

const { INVALID_ARGUMENT } = Code;
const FLAVOURS = ['physical', 'pcipf', 'pcivf', 'pcisf', 'virtual'];
const SOURCES = ['devlink', 'sysfs'];
/**
 * One PreparePort on the check's PortStream: its outcome, a 'broken' one
 * with a 'cancelled' failure when `cancel` fired first (its time ran out, or
 * the check cancelled); a positive CREATE answer released.
 */
async function streamed(run: Run, ctxIn: PortCtxIn, cancel: Cancel): Promise<PortOutcome> {
  let result: PortResult;
  try {
    result = await run.provider.portStream().prepare(run.instanceId, ctxIn, Date.now() + run.provider.timeoutMs, cancel);
  } catch (err) {
    if (err instanceof PortStreamBroken) {
      const { failure } = err.end;
      return { kind: 'broken', what: failure.kind === 'unimplemented' ? 'UNIMPLEMENTED, though GetInfo announces it' : `the stream broke: ${describeStreamFailure(failure)}`, failure };
    }
    if (err instanceof ProviderCallError && err.failure.kind === 'cancelled') {
      const what = cancel.timedOut ? `no answer within ${seconds(cancel.afterMs!)}` : 'cancelled before an answer came';
      return { kind: 'broken', what, failure: err.failure };
    }
    throw err;
  } finally {
    cancel.settle();
  }
  const outcome = fromPortResult('PortStream', result.result, run.errors);
  if (outcome.kind === 'answer') await run.release(run.keep(ctxIn, outcome.answer));
  return outcome;
}

function describeStreamFailure(failure: CallFailure): string {
  if (failure.kind === 'bad' && failure.message.startsWith('ended its PortStream')) return failure.message;
  return describeFailure(failure);
}

function streamEnded(run: Run): string {
  const end = run.provider.streamEnd;
  return end === undefined ? 'is closed' : `ended: ${describeStreamFailure(end.failure)}`;
}

/** A port and its outcome in a few words, for a list: `CREATE plugged "pf0vf2"`, `CREATE declined NO_VF_NUM`, `REMOVE plug = true`. */
function briefOutcome(ctxIn: PortCtxIn, outcome: PortOutcome): string {
  const op = ctxIn.opType === WireOpType.OP_TYPE_UNSPECIFIED ? 'OP_TYPE_UNSPECIFIED' : opOf(ctxIn).toUpperCase();
  if (outcome.kind === 'answer' && !outcome.answer.plug) return `${op} declined ${printable(outcome.answer.declineReason, 64)}`;
  if (outcome.kind === 'error') return `${op} ${codeName(outcome.code)} (${printable(outcome.reason, 64)})`;
  return `${op} ${describeOutcome(opOf(ctxIn), outcome)}`;
}

/** Each port's outcome by a route, against PreparePort's for the same port: what differs, and what breaks the rules. */
function compare(ports: readonly PortCtxIn[], expected: readonly PortOutcome[], got: readonly PortOutcome[], oracle: string): string[] {
  const problems: string[] = [];
  ports.forEach((ctxIn, i) => {
    const op = opOf(ctxIn);
    const which = `port ${i + 1} (${op.toUpperCase()} ${ctxIn.lportName})`;
    const outcome = got[i]!;
    const broken = outcomeProblems(op, outcome);
    if (broken.length > 0) problems.push(`${which}: ${broken.map((p) => printable(p, 300)).join('; ')}`);
    else if (!sameOutcome(op, outcome, expected[i]!)) problems.push(`${which}: ${describeOutcome(op, outcome)}, where ${oracle} answers ${describeOutcome(op, expected[i]!)}`);
  });
  return problems;
}
