/**
 * provider-check's run: the rules of rules.ts, checked one after the other
 * against one provider (csi-sanity's model: a sequence of calls a real
 * caller makes, each judged), with a verdict per rule. A rule is SKIPped
 * when the capability it needs is not announced, when a rule it builds on
 * did not pass, or once the provider stopped answering (each SKIP says
 * why). Every rule is bounded in time, and nothing a provider does makes
 * the run throw: a check that throws is that rule's FAIL.
 */
import { CHECKS, Run, fail, skip, snake, type Verdict } from './checks';
import { ProviderUnderCheck, describeFailure, printable, seconds, type CheckSettings } from './provider-under-check';
import { RULES, type RuleName } from './rules';

export type { CheckSettings } from './provider-under-check';

export interface RuleResult {
  readonly rule: RuleName;
  readonly result: Verdict['result'];
  /** What the check saw, on one line. */
  readonly saw: string;
}

export interface Report {
  readonly endpoint: string;
  readonly type: string;
  readonly results: readonly RuleResult[];
  /** True when no rule FAILed. */
  readonly ok: boolean;
}

/**
 * The most calls one rule makes one after the other (still-serving), each
 * bounded by the timeout: a rule that takes longer than this many timeouts
 * is cut short, so that the run ends whatever the provider does.
 */
const CALLS_PER_RULE = 10;

/**
 * Checks the provider at `settings.endpoint` against every rule; calls
 * `onResult` as each verdict is known. Never throws for anything the
 * provider does; throws, before it dials, for an endpoint that is malformed,
 * or TCP without `settings.tls`.
 */
export async function checkProvider(settings: CheckSettings, onResult: (result: RuleResult) => void = () => undefined): Promise<Report> {
  const provider = new ProviderUnderCheck(settings);
  const run = new Run(provider);
  const results: RuleResult[] = [];
  /** Why the provider is taken for gone, once it stopped answering. */
  let gone: string | undefined;
  try {
    for (const rule of RULES) {
      const verdict = await judge(rule, run, results, gone);
      const result: RuleResult = { rule: rule.name, result: verdict.result, saw: printable(verdict.saw, 600) };
      results.push(result);
      onResult(result);
      if (verdict.result === 'FAIL' && gone === undefined) {
        const alive = await provider.call('getInfo', {});
        const { failure } = alive.ok ? { failure: undefined } : alive;
        if (failure?.kind === 'unavailable') gone = `${rule.name} (GetInfo then: ${failure.message})`;
        if (failure?.kind === 'deadline') gone = `${rule.name} (GetInfo then: ${describeFailure(failure, provider.timeoutMs)})`;
      }
    }
  } finally {
    provider.close();
  }
  return { endpoint: settings.endpoint, type: settings.type, results, ok: results.every((r) => r.result !== 'FAIL') };
}

async function judge(rule: (typeof RULES)[number], run: Run, earlier: readonly RuleResult[], gone: string | undefined): Promise<Verdict> {
  // still-serving is checked whatever came before: it is what says that the provider is gone.
  if (gone !== undefined && rule.name !== 'still-serving') return skip(`not checked: the provider stopped answering after ${gone}`);
  if ('capability' in rule) {
    if (run.info === undefined) return skip(`GetInfo did not answer, so whether capabilities.${snake(rule.capability)} is announced is unknown`);
    if (run.info.capabilities?.[rule.capability] !== true) return skip(`GetInfo does not announce capabilities.${snake(rule.capability)}`);
  }
  const check = CHECKS[rule.name];
  for (const need of check.needs ?? []) {
    const before = earlier.find((r) => r.rule === need);
    if (before?.result !== 'PASS') return skip(`builds on ${need}, which ${before === undefined ? 'was not checked' : before.result === 'FAIL' ? 'failed' : 'was skipped'}`);
  }
  const limitMs = run.provider.timeoutMs * CALLS_PER_RULE + 2000;
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => resolve(fail(`the check did not end within ${seconds(limitMs)}; the provider holds its calls past their deadlines`)), limitMs);
  });
  const checked = check.run(run).catch((err: unknown) => fail(`the check failed: ${err instanceof Error ? err.message : String(err)}`));
  try {
    return await Promise.race([checked, cut]);
  } finally {
    clearTimeout(timer);
  }
}
