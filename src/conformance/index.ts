/**
 * provider-check, the conformance kit for providers: drives any provider,
 * on its endpoint and without vifplugd, through the contract of
 * proto/vifplug/provider/v1 (rules.ts), and says which rules hold. The model
 * is Kubernetes' csi-sanity.
 *   rules.ts                the rules, their names and the contract's words
 *   run.ts                  the run: order, skips, time bounds
 *   checks.ts               how each rule is checked
 *   outcomes.ts             one port's outcome by any route, compared and worded
 *   answers.ts              the one link to the boundary's rules for answers
 *   provider-under-check.ts the provider, dialled as vifplugd dials it; every call bounded
 *   report.ts               lines for people, JSON for scripts
 */
export { checkProvider, type CheckSettings, type Report, type RuleResult } from './run';
export { RULES, type Rule, type RuleName } from './rules';
export { answerProblems } from './answers';
export { reportJson, resultLine, summaryLine } from './report';
