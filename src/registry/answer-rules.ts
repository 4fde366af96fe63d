/**
 * The rules a provider's PreparePort answer must follow before any caller
 * sees it as a plug: the interface it names must be one that OVS and the
 * kernel can create (a netdev name the kernel's dev_valid_name() takes, an
 * Interface type OVS has for a VIF, options OVS can store and ovs-vsctl can
 * show), and a decline must say why. Said once, here, for every provider
 * (built-in or remote: the port cycle applies them to every answer), for the
 * provider API's wire form (api/wire.ts checkPrepareAnswer adds the handle)
 * and for whoever checks a provider from outside.
 *
 * Pure and cheap: a few loops over short strings per answer, no regular
 * expression on the hot path, nothing allocated for an answer that passes.
 */

import { PlugError } from './errors';
import type { OpType, PortCtxOut, PrepareResult } from './provider';

/** Linux's IFNAMSIZ: a netdev name is at most IFNAMSIZ - 1 bytes, and a NUL. */
export const IFNAMSIZ = 16;

/** Bounds on an answer; the request limits of vifplug.v1 (api/limits.ts) take the option bounds from here. */
export const ANSWER_LIMITS = {
  /** A kernel netdev name, in bytes of UTF-8 (IFNAMSIZ - 1). */
  netdevNameBytes: IFNAMSIZ - 1,
  /** The name of an interface that is not a kernel netdev (dpdk, dpdkvhostuser...), in bytes of UTF-8. */
  ifaceNameBytes: 1024,
  /** Entries of ctx_out.iface_options. */
  maxOptions: 512,
  /** A key, in characters. */
  maxOptionKeyLength: 256,
  /** A value, in characters. */
  maxOptionValueLength: 4096,
  /** Every key and value of one answer together, in characters: a live ctx keeps its answer. */
  maxOptionsLength: 65_536,
  /** decline_message, in characters. */
  maxDeclineMessageLength: 1024,
  /** decline_reason (and any reason): UPPER_SNAKE, in characters. */
  maxReasonLength: 63,
} as const;

/**
 * Interface types whose interface is a kernel netdev, so its name follows the
 * kernel's rule: '' and "system" (an existing netdev), "internal" (OVS creates
 * one; a tap on the userspace datapath), "tap", "afxdp" and "afxdp-nonpmd"
 * (an existing netdev, read through AF_XDP).
 */
export const KERNEL_NETDEV_TYPES: ReadonlySet<string> = new Set(['', 'system', 'internal', 'tap', 'afxdp', 'afxdp-nonpmd']);

/**
 * Every Interface type a VIF plug provider may answer: the kernel's above,
 * DPDK's ("dpdk", "dpdkvhostuser", "dpdkvhostuserclient"), and OVS's dummy
 * netdevs ("dummy", "dummy-internal", "dummy-pmd", for sandboxes). OVS's
 * other types are its own plumbing, which ovn-controller makes itself:
 * tunnels (geneve, vxlan, gre, ...) and "patch". A type OVS does not know is
 * an interface OVS cannot open.
 */
export const VIF_IFACE_TYPES: ReadonlySet<string> = new Set([...KERNEL_NETDEV_TYPES, 'dpdk', 'dpdkvhostuser', 'dpdkvhostuserclient', 'dummy', 'dummy-internal', 'dummy-pmd']);

/** What breaks a rule: the field as the provider API names it, a stable token, and words for people. */
export interface AnswerProblem {
  /** E.g. "ctx_out.name", "ctx_out.iface_options", "decline_reason". */
  readonly field: string;
  /** A stable kebab-case token, e.g. "too-long", "forbidden-character", "unknown-type". */
  readonly problem: string;
  /** A clause that names the field and says what is wrong with it, e.g. 'ctx_out.name "a/b" holds "/" ...'. */
  readonly message: string;
}

const problem = (field: string, token: string, message: string): AnswerProblem => ({ field, problem: token, message });

/** A stable UPPER_SNAKE reason: a letter, then up to 62 letters, digits and "_". */
export function isReason(value: string): boolean {
  const n = value.length;
  if (n === 0 || n > ANSWER_LIMITS.maxReasonLength) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    const upper = c >= 0x41 && c <= 0x5a;
    if (i === 0 ? !upper : !(upper || (c >= 0x30 && c <= 0x39) || c === 0x5f)) return false;
  }
  return true;
}

/** A value quoted as JSON (escapes shown), cut to `max` characters, for a message. */
export function quoted(value: string, max = 40): string {
  return JSON.stringify(value.length <= max ? value : `${value.slice(0, max - 3)}...`);
}

/**
 * Why `name` cannot be a kernel netdev name, as the kernel's dev_valid_name()
 * judges it, plus one rule of ours; undefined when it can:
 * - 1 to 15 bytes of UTF-8 (IFNAMSIZ 16 with the NUL);
 * - not "." or "..";
 * - no "/", ":" or white space as the kernel's isspace() sees bytes: space,
 *   \t \n \v \f \r, and the byte 0xA0 (so no U+00A0, nor a letter whose UTF-8
 *   holds that byte, e.g. "à");
 * - ours: no control character (C0, DEL, C1) and no lone UTF-16 surrogate,
 *   which the kernel would take but no tool shows as typed.
 */
export function netdevNameProblem(name: string, field = 'ctx_out.name'): AnswerProblem | undefined {
  if (name === '') return problem(field, 'missing', `${field} is empty`);
  if (name === '.' || name === '..') return problem(field, 'dot-name', `${field} ${quoted(name)} is a name the kernel refuses`);
  let bytes = 0;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c <= 0x20 || c === 0x2f || c === 0x3a || c === 0x7f) return forbidden(field, name, c);
    } else if (c < 0x800) {
      bytes += 2;
      if (c < 0xa0 || (c & 0x3f) === 0x20) return forbidden(field, name, c);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const low = name.charCodeAt(i + 1);
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return notWellFormed(field);
      const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
      bytes += 4;
      i++;
      if (((cp >> 12) & 0x3f) === 0x20 || ((cp >> 6) & 0x3f) === 0x20 || (cp & 0x3f) === 0x20) return forbidden(field, name, cp);
    } else {
      bytes += 3;
      if (((c >> 6) & 0x3f) === 0x20 || (c & 0x3f) === 0x20) return forbidden(field, name, c);
    }
  }
  if (bytes > ANSWER_LIMITS.netdevNameBytes) {
    return problem(field, 'too-long', `${field} ${quoted(name)} is ${bytes} bytes; a kernel netdev name has at most ${ANSWER_LIMITS.netdevNameBytes}`);
  }
  return undefined;
}

function forbidden(field: string, name: string, cp: number): AnswerProblem {
  const what =
    cp === 0x20 ? 'a space' : cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) ? 'a control character' : cp === 0x2f ? '"/"' : cp === 0x3a ? '":"' : 'a character whose UTF-8 holds the byte 0xA0, white space to the kernel';
  return problem(
    field,
    'forbidden-character',
    `${field} ${quoted(name)} holds ${what} (U+${cp.toString(16).toUpperCase().padStart(4, '0')}); a kernel netdev name has no "/", ":", white space or control character`,
  );
}

function notWellFormed(field: string): AnswerProblem {
  return problem(field, 'not-well-formed', `${field} holds a lone UTF-16 surrogate, which is no UTF-8 text`);
}

/**
 * Why `name` cannot be the Port and Interface name of an interface of
 * `type`; undefined when it can. A kernel netdev (KERNEL_NETDEV_TYPES)
 * follows netdevNameProblem. Any other interface lives in OVS only: 1 to
 * 1024 bytes, not "." or "..", no control character; for "dpdkvhostuser",
 * whose name OVS makes the file name of the vhost-user socket, no "/" or "\".
 * An unknown type is ifaceTypeProblem's to report: its name is judged as a
 * netdev's.
 */
export function ifaceNameProblem(name: string, type: string, field = 'ctx_out.name'): AnswerProblem | undefined {
  if (KERNEL_NETDEV_TYPES.has(type) || !VIF_IFACE_TYPES.has(type)) return netdevNameProblem(name, field);
  if (name === '') return problem(field, 'missing', `${field} is empty`);
  if (name === '.' || name === '..') return problem(field, 'dot-name', `${field} ${quoted(name)} is no interface name`);
  const bad = textProblem(name, field, () => `${field} ${quoted(name)}`, false);
  if (bad !== undefined) return bad;
  if (type === 'dpdkvhostuser' && (name.includes('/') || name.includes('\\'))) {
    return problem(field, 'forbidden-character', `${field} ${quoted(name)} of type dpdkvhostuser holds "/" or "\\"; OVS makes this name the file name of the vhost-user socket`);
  }
  const bytes = Buffer.byteLength(name);
  if (bytes > ANSWER_LIMITS.ifaceNameBytes) return problem(field, 'too-long', `${field} is ${bytes} bytes; at most ${ANSWER_LIMITS.ifaceNameBytes}`);
  return undefined;
}

/** Why `type` is no Interface type for a VIF (VIF_IFACE_TYPES); undefined when it is one. */
export function ifaceTypeProblem(type: string, field = 'ctx_out.type'): AnswerProblem | undefined {
  if (VIF_IFACE_TYPES.has(type)) return undefined;
  const types = [...VIF_IFACE_TYPES].filter((t) => t !== '').join(', ');
  return problem(field, 'unknown-type', `${field} ${quoted(type)} is not an Interface type OVS has for a VIF; use "" (a system netdev) or one of ${types}`);
}

/**
 * Why `options` cannot be an Interface's options; undefined when they can.
 * At most 512 entries and 64 Ki characters in all; keys of 1 to 256
 * characters without "=", white space or control characters (ovs-vsctl
 * reads options as key=value); values of at most 4096 characters without
 * control characters other than tab (no NUL, no line breaks).
 */
export function ifaceOptionsProblem(options: ReadonlyMap<string, string>, field = 'ctx_out.iface_options'): AnswerProblem | undefined {
  if (options.size === 0) return undefined;
  if (options.size > ANSWER_LIMITS.maxOptions) return problem(field, 'too-many', `${field} has ${options.size} entries; at most ${ANSWER_LIMITS.maxOptions}`);
  let total = 0;
  for (const [key, value] of options) {
    total += key.length + value.length;
    const badKey = keyProblem(key, field);
    if (badKey !== undefined) return badKey;
    if (value.length > ANSWER_LIMITS.maxOptionValueLength) {
      return problem(field, 'too-long', `${field}[${quoted(key)}] is ${value.length} characters; at most ${ANSWER_LIMITS.maxOptionValueLength}`);
    }
    const badValue = textProblem(value, field, () => `${field}[${quoted(key)}]`, true);
    if (badValue !== undefined) return badValue;
  }
  if (total > ANSWER_LIMITS.maxOptionsLength) return problem(field, 'too-long', `${field} are ${total} characters in all; at most ${ANSWER_LIMITS.maxOptionsLength}`);
  return undefined;
}

function keyProblem(key: string, field: string): AnswerProblem | undefined {
  if (key === '') return problem(field, 'empty-key', `${field} has an empty key`);
  if (key.length > ANSWER_LIMITS.maxOptionKeyLength) return problem(field, 'too-long', `${field} has a key of ${key.length} characters; at most ${ANSWER_LIMITS.maxOptionKeyLength}`);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x3d || c <= 0x20 || c === 0x7f || (c >= 0x80 && c <= 0xa0)) {
      return problem(field, 'forbidden-character', `${field} key ${quoted(key)} holds "=", white space or a control character; ovs-vsctl reads options as key=value`);
    }
  }
  return textProblem(key, field, () => `${field} key ${quoted(key)}`, false);
}

/**
 * No control character (tab allowed where `tabOk`), no lone surrogate.
 * `what` is made only for a problem: an answer that keeps the rules, every
 * call's, costs no message.
 */
function textProblem(text: string, field: string, what: () => string, tabOk: boolean): AnswerProblem | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && !(tabOk && c === 0x09)) || c === 0x7f || (c >= 0x80 && c < 0xa0)) {
      return problem(field, 'forbidden-character', `${what()} holds a control character (U+${c.toString(16).toUpperCase().padStart(4, '0')})${tabOk ? '; only tab is allowed' : ''}`);
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const low = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return notWellFormed(field);
      i++;
    }
  }
  return undefined;
}

/** Why a decline is no decline: an UPPER_SNAKE reason and a sentence are required. */
export function declineProblem(reason: string, message: string): AnswerProblem | undefined {
  if (!isReason(reason)) {
    return problem('decline_reason', reason === '' ? 'missing' : 'not-upper-snake', `decline_reason ${quoted(reason)} is not an UPPER_SNAKE reason of 1-${ANSWER_LIMITS.maxReasonLength} characters`);
  }
  if (message === '') return problem('decline_message', 'missing', 'decline_message is empty: a decline says why, for people');
  if (message.length > ANSWER_LIMITS.maxDeclineMessageLength) {
    return problem('decline_message', 'too-long', `decline_message is ${message.length} characters; at most ${ANSWER_LIMITS.maxDeclineMessageLength}`);
  }
  return undefined;
}

/** Why the interface of a positive CREATE answer cannot be created; undefined when it can. */
export function ctxOutProblem(out: PortCtxOut | undefined): AnswerProblem | undefined {
  if (out === undefined || out.name === '') return problem('ctx_out.name', 'missing', 'ctx_out.name is empty: a create answered plug = true names its interface');
  return ifaceTypeProblem(out.type) ?? ifaceNameProblem(out.name, out.type) ?? ifaceOptionsProblem(out.ifaceOptions);
}

/**
 * Why a PreparePort answer breaks the rules; undefined when it follows them.
 * A positive REMOVE answer names no interface (what it carries besides plug
 * is ignored); a positive CREATE answer's interface is checked; a decline
 * must carry its reason and message.
 */
export function prepareAnswerProblem(op: OpType, result: PrepareResult): AnswerProblem | undefined {
  if (result?.plug === false) return declineProblem(result.reason, result.message);
  if (result?.plug !== true) return problem('plug', 'neither-plug-nor-decline', 'the answer is neither plug = true nor a decline');
  return op === 'create' ? ctxOutProblem(result.out) : undefined;
}

/** The reason a caller gets for an answer that breaks these rules (status INTERNAL: a bug in the provider). */
export const ANSWER_INVALID = 'PROVIDER_ANSWER_INVALID';

/**
 * A provider's answer refused by these rules. `answer` is what the provider
 * answered, for the gate to release (a positive CREATE answer holds what
 * DestroyPortCtx frees); the error is what the caller gets: INTERNAL,
 * PROVIDER_ANSWER_INVALID, with the provider, the field and the problem in
 * its metadata. INTERNAL because the provider broke its contract: retrying
 * gets the same answer, and the caller's request was fine.
 */
export class AnswerRefused extends PlugError {
  constructor(
    type: string,
    readonly problem: AnswerProblem,
    readonly answer: PrepareResult,
  ) {
    super(
      'INTERNAL',
      ANSWER_INVALID,
      `provider "${type}" answered PreparePort with what no OVS or kernel could use: ${problem.message}; the answer was refused and nothing was plugged. This is a bug in the provider (the rules: docs/providers.md, "What an answer may say")`,
      { metadata: { type, operation: 'PreparePort', field: problem.field, problem: problem.problem } },
    );
  }
}
