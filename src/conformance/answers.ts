/**
 * The provider-check kit's one link to the rules vifplugd enforces on a
 * provider's PreparePort answer at its boundary: every answer the kit
 * receives, by any route, is judged here and only here, and this file holds
 * no rule of its own. Pointing the kit at other boundary rules is a change
 * of the one call below.
 */
import type { PreparePortResponse } from '../gen/vifplug/provider/v1/provider';
import { ANSWER_INVALID, ifaceOptionsProblem, type OpType } from '../registry';
import { checkPrepareAnswer } from '../api/wire';

/** What breaks the boundary's rules in a PreparePort answer for `op`; empty when vifplugd takes it. */
export function answerProblems(op: OpType, answer: PreparePortResponse): string[] {
  const checked = checkPrepareAnswer(op, answer);
  return 'problem' in checked ? [`${checked.message}: vifplugd refuses such an answer (${ANSWER_INVALID}, ${checked.problem})`] : [];
}

/**
 * What breaks the boundary's rules for interface option keys among `keys`
 * (GetInfo's maintained_iface_options name keys of the options a provider
 * answers): each judged by the rule for an answer's iface_options keys.
 */
export function optionKeyProblems(keys: readonly string[]): string[] {
  return keys.flatMap((key) => {
    const problem = ifaceOptionsProblem(new Map([[key, '']]), 'maintained_iface_options');
    return problem === undefined ? [] : [problem.message];
  });
}
