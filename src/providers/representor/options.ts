/**
 * The lport options that select a representor, as OVN forwards them
 * (vif-plug:representor:pf-mac / vf-num, as ovn-vif reads them, plus sf-num
 * for sub-functions). Parsing is strict because a plug decision follows from
 * it: ovn-vif's strtol silently used the numeric prefix of "3abc" and wrapped
 * "70000", which plugs the wrong port. The parsed values are numbers and a
 * normalised MAC; the raw text never reaches a path, a shell or a regexp.
 */

import { PlugError } from '../../registry/errors';
import { isUsableMac, parseMac } from './mac';

export const OPTION_PREFIX = 'vif-plug:representor:';
export const PF_MAC_OPTION = `${OPTION_PREFIX}pf-mac`;
export const VF_NUM_OPTION = `${OPTION_PREFIX}vf-num`;
export const SF_NUM_OPTION = `${OPTION_PREFIX}sf-num`;
const KNOWN_OPTIONS = [PF_MAC_OPTION, VF_NUM_OPTION, SF_NUM_OPTION];

/** devlink's VF number is a u16 (DEVLINK_ATTR_PORT_PCI_VF_NUMBER). */
export const MAX_VF_NUM = 0xffff;
/** devlink's SF number is a u32 (DEVLINK_ATTR_PORT_PCI_SF_NUMBER). */
export const MAX_SF_NUM = 0xffffffff;

/** Which function of the PF the caller wants. */
export type FunctionSelector =
  | { readonly kind: 'pf' }
  | { readonly kind: 'vf'; readonly num: number }
  | { readonly kind: 'sf'; readonly num: number };

export interface LookupRequest {
  /** Normalised (lower-case colon form). */
  readonly pfMac: string;
  readonly fn: FunctionSelector;
}

/**
 * Decimal without sign, spaces or leading zeros. Leading zeros are refused
 * ("01"): the kernel never prints them, some tools read them as octal, and one
 * spelling per number keeps a port's options comparable.
 */
const VF_NUM_RE = /^(?:0|[1-9][0-9]{0,4})$/;
const SF_NUM_RE = /^(?:0|[1-9][0-9]{0,9})$/;

/** The request the options describe; throws INVALID_ARGUMENT naming the option. */
export function parseRepresentorOptions(options: ReadonlyMap<string, string>): LookupRequest {
  for (const key of options.keys()) {
    // An unknown key in our namespace is most likely a typo of vf-num or sf-num;
    // ignoring it would plug the PF representor instead of the function meant.
    if (key.startsWith(OPTION_PREFIX) && !KNOWN_OPTIONS.includes(key)) {
      throw invalidOption(key, `is not an option of the representor provider, which reads ${KNOWN_OPTIONS.join(', ')}`);
    }
  }
  const macText = options.get(PF_MAC_OPTION);
  if (macText === undefined || macText === '') {
    throw invalidOption(PF_MAC_OPTION, 'is required: the MAC address of the PF, e.g. 10:70:fd:df:9c:3a');
  }
  const pfMac = parseMac(macText);
  if (pfMac === undefined) {
    throw invalidOption(PF_MAC_OPTION, `must be a MAC address in colon form (e.g. 10:70:fd:df:9c:3a), got ${quote(macText)}`);
  }
  if (!isUsableMac(pfMac)) {
    throw invalidOption(PF_MAC_OPTION, 'must not be 00:00:00:00:00:00, which devlink reports for functions whose MAC is unset');
  }
  const vf = parseNumber(options, VF_NUM_OPTION, VF_NUM_RE, MAX_VF_NUM);
  const sf = parseNumber(options, SF_NUM_OPTION, SF_NUM_RE, MAX_SF_NUM);
  if (vf !== undefined && sf !== undefined) {
    throw invalidOption(SF_NUM_OPTION, `cannot be combined with ${VF_NUM_OPTION}: a port is either a VF or a sub-function`);
  }
  if (vf !== undefined) return { pfMac, fn: { kind: 'vf', num: vf } };
  if (sf !== undefined) return { pfMac, fn: { kind: 'sf', num: sf } };
  return { pfMac, fn: { kind: 'pf' } };
}

/** The options that select `fn` of the PF with `pfMac` (the inverse of parseRepresentorOptions). */
export function optionsFor(pfMac: string, fn: FunctionSelector): Map<string, string> {
  const options = new Map([[PF_MAC_OPTION, pfMac]]);
  if (fn.kind === 'vf') options.set(VF_NUM_OPTION, String(fn.num));
  if (fn.kind === 'sf') options.set(SF_NUM_OPTION, String(fn.num));
  return options;
}

/** "VF 4", "SF 77", "the PF representor": for messages. */
export function describeFunction(fn: FunctionSelector): string {
  if (fn.kind === 'vf') return `VF ${fn.num}`;
  if (fn.kind === 'sf') return `SF ${fn.num}`;
  return 'the PF representor';
}

function parseNumber(options: ReadonlyMap<string, string>, key: string, re: RegExp, max: number): number | undefined {
  const text = options.get(key);
  // Absent or empty means "not given", as in ovn-vif (an empty vf-num selects the PF).
  if (text === undefined || text === '') return undefined;
  const value = re.test(text) ? Number(text) : NaN;
  if (!(value <= max)) {
    throw invalidOption(key, `must be a decimal number from 0 to ${max} without sign, spaces or leading zeros, got ${quote(text)}`);
  }
  return value;
}

function invalidOption(key: string, expectation: string): PlugError {
  return new PlugError('INVALID_ARGUMENT', 'INVALID_OPTION', `lport option ${key} ${expectation}`, {
    metadata: { option: key },
  });
}

/** The value as a JSON string, cut so that a huge value cannot flood a message or a log. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}
