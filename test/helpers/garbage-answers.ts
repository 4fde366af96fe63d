import { ErrorInfo } from '../../src/gen/google/rpc/error_details';
import type { Status } from '../../src/gen/google/rpc/status';
import type { PrepareResult } from '../../src/registry';

/**
 * PreparePort answers that break the answer rules (src/registry/answer-rules.ts),
 * by the lport a deliberately broken provider answers them for, with the
 * field and problem vifplugd's refusal names, and whether the answer holds
 * something to release (a positive CREATE answer) or not (a decline).
 */
export interface Garbage {
  readonly answer: PrepareResult;
  readonly field: string;
  readonly problem: string;
  readonly released: boolean;
}

const plug = (name: string, type = 'internal', options: Record<string, string> = {}): PrepareResult => ({
  plug: true,
  out: { name, type, ifaceOptions: new Map(Object.entries(options)) },
});

export const GARBAGE: Readonly<Record<string, Garbage>> = {
  'long-name': { answer: plug('a'.repeat(300)), field: 'ctx_out.name', problem: 'too-long', released: true },
  'slash-name': { answer: plug('vm1/eth0'), field: 'ctx_out.name', problem: 'forbidden-character', released: true },
  'space-name': { answer: plug('vm1 eth0'), field: 'ctx_out.name', problem: 'forbidden-character', released: true },
  'dot-name': { answer: plug('..'), field: 'ctx_out.name', problem: 'dot-name', released: true },
  'no-name': { answer: { plug: true }, field: 'ctx_out.name', problem: 'missing', released: true },
  'tunnel-type': { answer: plug('vm1', 'geneve'), field: 'ctx_out.type', problem: 'unknown-type', released: true },
  'eq-key': { answer: plug('vm1', 'internal', { 'a=b': 'c' }), field: 'ctx_out.iface_options', problem: 'forbidden-character', released: true },
  'nl-key': { answer: plug('vm1', 'internal', { 'a\nb': 'c' }), field: 'ctx_out.iface_options', problem: 'forbidden-character', released: true },
  'nul-value': { answer: plug('vm1', 'internal', { k: 'a\0b' }), field: 'ctx_out.iface_options', problem: 'forbidden-character', released: true },
  'bad-decline': { answer: { plug: false, reason: 'not snake', message: 'x' }, field: 'decline_reason', problem: 'not-upper-snake', released: false },
  'silent-decline': { answer: { plug: false, reason: 'NOT_MINE', message: '' }, field: 'decline_message', problem: 'missing', released: false },
};

/** A good answer for any other lport: an internal interface named after it. */
export function goodAnswer(lport: string): PrepareResult {
  return plug(lport.slice(0, 15));
}

/** The ErrorInfo reason of one port's error in a vifplug.v1 PreparePorts answer. */
export function reasonOf(status: Status): string | undefined {
  const info = status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo');
  return info && ErrorInfo.decode(info.value).reason;
}
