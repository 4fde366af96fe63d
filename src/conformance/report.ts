/**
 * provider-check's report, for people (one line per rule: verdict, rule,
 * what it saw; then a count) and for scripts (JSON). Formatting only.
 */
import { RULES } from './rules';
import type { Report, RuleResult } from './run';

const NAME_WIDTH = Math.max(...RULES.map((r) => r.name.length));

/** `PASS  get-info-type-matches         GetInfo names type "onebased"` */
export function resultLine(result: RuleResult): string {
  return `${result.result}  ${result.rule.padEnd(NAME_WIDTH)}  ${result.saw}`;
}

/** `33 rules: 30 PASS, 0 FAIL, 3 SKIP` */
export function summaryLine(report: Report): string {
  const count = (result: RuleResult['result']) => report.results.filter((r) => r.result === result).length;
  return `${report.results.length} rules: ${count('PASS')} PASS, ${count('FAIL')} FAIL, ${count('SKIP')} SKIP`;
}

/** The report as scripts read it. */
export function reportJson(report: Report): unknown {
  const count = (result: RuleResult['result']) => report.results.filter((r) => r.result === result).length;
  return {
    endpoint: report.endpoint,
    type: report.type,
    ok: report.ok,
    passed: count('PASS'),
    failed: count('FAIL'),
    skipped: count('SKIP'),
    rules: report.results.map((r) => ({ rule: r.rule, result: r.result, saw: r.saw })),
  };
}
