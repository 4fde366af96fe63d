import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { answerProblems, checkProvider, RULES, type Report, type RuleResult } from '../../src/conformance';
import { ROOT, blocksCheckedBy, where } from '../helpers/docs';
import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { tempDir } from '../helpers/server';
import { matchShape, steps } from '../helpers/session';

// provider-check (src/conformance/) as csi-sanity is tested: run against
// providers that keep the contract (both examples, and one on bare grpc-js),
// and against providers broken on purpose (broken-provider.js, one rule
// each), every one a real process on a real socket. Each broken run must FAIL
// naming the rule it breaks, and every run must end, whatever the provider
// does.

const CTL = join(ROOT, 'dist', 'cli', 'vifplugctl.js');
const BROKEN = join(__dirname, 'broken-provider.js');
const PYTHON = '/usr/bin/python3';

const dir = tempDir('vifplug-pc-');
const providers: ProviderProcess[] = [];

afterAll(async () => {
  for (const p of providers) {
    p.proc.kill('SIGCONT');
    await p.stop();
  }
  dir.remove();
});

function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CTL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function started(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProviderProcess> {
  const p = await runProvider(command, args, /^serving/, env);
  providers.push(p);
  return p;
}

let counter = 0;
/** A broken-provider.js process breaking `rule` ('none': keeping every rule), of type "raw"; its endpoint. */
async function broken(breaks: string): Promise<{ endpoint: string; process: ProviderProcess }> {
  const socket = join(dir.path, `raw${++counter}.sock`);
  const process = await started(globalThis.process.execPath, [BROKEN, '--socket', socket, '--type', 'raw', '--break', breaks]);
  return { endpoint: `unix://${socket}`, process };
}

/** provider-check, in this process, of a "raw" provider. */
function check(endpoint: string, timeoutMs = 1000, options: { plug?: Record<string, string>; decline?: Record<string, string> } = {}): Promise<Report> {
  return checkProvider({
    endpoint,
    type: 'raw',
    plugOptions: new Map(Object.entries(options.plug ?? { 'vif-plug:raw:vf-num': '3' })),
    declineOptions: new Map(Object.entries(options.decline ?? {})),
    lportName: 'provider-check',
    useDpdk: false,
    timeoutMs,
  });
}

const failed = (report: Report): RuleResult[] => report.results.filter((r) => r.result === 'FAIL');
const ruleNames = RULES.map((r) => r.name);

describe('provider-check on providers that keep the contract', () => {
  let tsSocket: string;
  beforeAll(async () => {
    tsSocket = join(dir.path, 'onebased.sock');
    await started(process.execPath, [join(ROOT, 'examples', 'typescript', 'dist', 'provider.js'), '--socket', tsSocket]);
  });

  it('passes the TypeScript example: a line per rule, in order, every rule PASS but the capability it does not announce; exit 0', async () => {
    const run = await ctl('provider-check', '--endpoint', `unix://${tsSocket}`, '--type', 'onebased', '--option', 'vif-plug:onebased:vf-num=3');
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1).map((l) => l.split(/\s+/)[1])).toEqual(ruleNames);
    expect(lines.filter((l) => !l.startsWith('PASS '))).toEqual([
      'SKIP  list-representors-answers     GetInfo does not announce capabilities.list_representors',
      '33 rules: 32 PASS, 0 FAIL, 1 SKIP',
    ]);
    expect(run.code).toBe(0);
  });

  it('passes the Python example on the SDK from python/; --json says so for scripts', async () => {
    const socket = join(dir.path, 'onebased-py.sock');
    await started(PYTHON, [join(ROOT, 'examples', 'python', 'provider.py'), '--socket', socket], { PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' });
    const run = await ctl('--json', 'provider-check', '--endpoint', `unix://${socket}`, '--type', 'onebased-py', '--option', 'vif-plug:onebased-py:vf-num=3');
    const report = JSON.parse(run.stdout) as { ok: boolean; passed: number; failed: number; skipped: number; rules: { rule: string; result: string; saw: string }[] };
    expect(report).toMatchObject({ endpoint: `unix://${socket}`, type: 'onebased-py', ok: true, passed: 32, failed: 0, skipped: 1 });
    expect(report.rules.map((r) => r.rule)).toEqual(ruleNames);
    expect(report.rules.find((r) => r.rule === 'create-plugs')?.saw).toBe('CREATE of provider-check with vif-plug:onebased-py:vf-num=3: plugged "pf0vf2"');
    expect(run.code).toBe(0);
  });

  it('passes a provider on bare grpc-js that sends reasons in the vifplug-reason trailer and serves no Health (SKIP, with why)', async () => {
    const { endpoint } = await broken('none');
    const report = await check(endpoint);
    expect(report.results.filter((r) => r.result !== 'PASS')).toEqual([
      { rule: 'health-serving', result: 'SKIP', saw: 'it serves no grpc.health.v1.Health status for "vifplug.provider.v1.Provider"; vifplugd probes it with GetInfo' },
    ]);
    expect(report.results.find((r) => r.rule === 'list-representors-answers')).toMatchObject({ result: 'PASS', saw: '1 representor, each with a known flavour and source' });
    expect(report.ok).toBe(true);
  });

  it('declines what --decline-option names, and says when the provider declines nothing, and when --option does not make it plug', async () => {
    const run = (...extra: string[]) => ctl('--json', 'provider-check', '--endpoint', `unix://${tsSocket}`, '--type', 'onebased', ...extra);
    const verdict = async (rule: string, ...extra: string[]) => {
      const { stdout } = await run(...extra);
      return (JSON.parse(stdout) as { rules: RuleResult[] }).rules.find((r) => r.rule === rule);
    };
    expect(await verdict('decline-has-reason', '--option', 'vif-plug:onebased:vf-num=3', '--decline-option', 'vif-plug:onebased:vf-num=0')).toEqual({
      rule: 'decline-has-reason',
      result: 'PASS',
      saw: 'CREATE with vif-plug:onebased:vf-num=0: refused INVALID_ARGUMENT (INVALID_OPTION): vif-plug:onebased:vf-num="0" is not a VF number from 1 to 65536',
    });
    expect(await verdict('decline-has-reason', '--option', 'vif-plug:onebased:vf-num=3', '--decline-option', 'vif-plug:onebased:vf-num=5')).toMatchObject({
      result: 'SKIP',
      saw: 'it plugs a CREATE with vif-plug:onebased:vf-num=5: nothing was declined; name lport options it declines with --decline-option KEY=VALUE',
    });
    const withoutOption = await run();
    expect((JSON.parse(withoutOption.stdout) as { rules: RuleResult[] }).rules.find((r) => r.rule === 'create-plugs')).toMatchObject({
      result: 'FAIL',
      saw: expect.stringMatching(/^CREATE of provider-check with no lport options: declined NO_VF_NUM: .*; give --option KEY=VALUE with lport options it plugs$/),
    });
    expect(withoutOption.code).toBe(6);
  });
});

/** Each broken provider, the rule it breaks (the first to FAIL), and what the FAIL line must say. */
const BREAKS: { breaks: string; rule: string; saw: RegExp }[] = [
  { breaks: 'wrong-type', rule: 'get-info-type-matches', saw: /^GetInfo names type "raw-other", not "raw"; vifplugd refuses to register it as "raw" \(PROVIDER_TYPE_MISMATCH\)$/ },
  { breaks: 'no-api-version', rule: 'get-info-api-version', saw: /^it speaks v0; vifplugd speaks v1 and refuses it \(PROVIDER_API_UNSUPPORTED\)$/ },
  { breaks: 'long-name', rule: 'create-answer-within-rules', saw: /^ctx_out\.name "x+\.\.\." is 2000 bytes; a kernel netdev name has at most 15: vifplugd refuses such an answer \(PROVIDER_ANSWER_INVALID, too-long\)$/ },
  { breaks: 'name-300', rule: 'create-answer-within-rules', saw: /^ctx_out\.name "p+\.\.\." is 300 bytes; a kernel netdev name has at most 15: .*\(PROVIDER_ANSWER_INVALID, too-long\)$/ },
  { breaks: 'slash-name', rule: 'create-answer-within-rules', saw: /^ctx_out\.name "pf0\/vf2" holds "\/".*\(PROVIDER_ANSWER_INVALID, forbidden-character\)$/ },
  { breaks: 'space-name', rule: 'create-answer-within-rules', saw: /^ctx_out\.name "pf0 vf2" holds a space \(U\+0020\).*\(PROVIDER_ANSWER_INVALID, forbidden-character\)$/ },
  { breaks: 'long-option-key', rule: 'create-answer-within-rules', saw: /^ctx_out\.iface_options has a key of 300 characters; at most 256: .*\(PROVIDER_ANSWER_INVALID, too-long\)$/ },
  { breaks: 'equals-option-key', rule: 'create-answer-within-rules', saw: /^ctx_out\.iface_options key "a=b" holds "=", white space or a control character; .*\(PROVIDER_ANSWER_INVALID, forbidden-character\)$/ },
  { breaks: 'newline-option-value', rule: 'create-answer-within-rules', saw: /^ctx_out\.iface_options\["mtu_request"\] holds a control character \(U\+000A\); only tab is allowed: .*\(PROVIDER_ANSWER_INVALID, forbidden-character\)$/ },
  { breaks: 'garbage-answer', rule: 'create-plugs', saw: /answered bytes that are not a valid message of the method/ },
  { breaks: 'unstable-name', rule: 'create-repeatable', saw: /^first plugged "pf0vf\d+", then plugged "pf0vf\d+"$/ },
  { breaks: 'decline-without-reason', rule: 'decline-has-reason', saw: /^CREATE with no lport options: decline_reason "" is not an UPPER_SNAKE reason of 1-63 characters: vifplugd refuses such an answer \(PROVIDER_ANSWER_INVALID, missing\)$/ },
  { breaks: 'error-without-reason', rule: 'decline-has-reason', saw: /^CREATE with no lport options: answered FAILED_PRECONDITION without an ErrorInfo reason: no vf-num$/ },
  { breaks: 'hang', rule: 'create-plugs', saw: /no answer within 1 s \(DEADLINE_EXCEEDED\)$/ },
  { breaks: 'finish-crash', rule: 'finish-accepts-answer', saw: /^FinishPort with the answer and its handle: no answer: / },
  { breaks: 'destroy-not-idempotent', rule: 'destroy-idempotent', saw: /^DestroyPortCtx of the same ctx again: NOT_FOUND \(NO_SUCH_CTX\): no ctx with handle h1$/ },
  { breaks: 'malformed-unchecked', rule: 'malformed-request-refused', saw: /^a PreparePort without ctx_in: answered UNKNOWN without an ErrorInfo reason: .*; each must be INVALID_ARGUMENT with a reason$/ },
  { breaks: 'cancel-crash', rule: 'cancel-keeps-serving', saw: /no answer/ },
  { breaks: 'ports-reversed', rule: 'prepare-ports-in-order', saw: /^port 1 \(CREATE provider-check-batch0\): INVALID_ARGUMENT \(MALFORMED_REQUEST\): .*, where PreparePort answers plugged "pf0vf2"/ },
  { breaks: 'stream-wrong-id', rule: 'port-stream-answers-by-id', saw: /^port 1 \(CREATE provider-check-stream0\): no answer within 1 s; / },
  { breaks: 'watch-ends', rule: 'watch-stays-open', saw: /^the Watch stream ended during the check: it ended \(status OK\)$/ },
];

describe('provider-check on providers broken on purpose', () => {
  it.each(BREAKS)('$breaks: FAILs $rule', async ({ breaks, rule, saw }) => {
    const { endpoint } = await broken(breaks);
    const report = await check(endpoint);
    const fails = failed(report);
    expect(fails[0], JSON.stringify(fails, null, 2)).toMatchObject({ rule, saw: expect.stringMatching(saw) });
    expect(report.ok).toBe(false);
    expect(report.results.map((r) => r.rule)).toEqual(ruleNames);
  });

  it('a provider that died (a crash in FinishPort): the rules after it are not checked, and still-serving FAILs', async () => {
    const { endpoint, process: provider } = await broken('finish-crash');
    const report = await check(endpoint);
    expect(await provider.exited).toBe(70);
    const after = report.results.slice(ruleNames.indexOf('finish-accepts-answer') + 1);
    expect(after.slice(0, -1).every((r) => r.result === 'SKIP' && r.saw.startsWith('not checked: the provider stopped answering after finish-accepts-answer (GetInfo then: '))).toBe(true);
    expect(after[after.length - 1]).toMatchObject({ rule: 'still-serving', result: 'FAIL', saw: expect.stringMatching(/^GetInfo: no answer: /) });
  });

  it('judges an interface name with "/" or of 300 characters by the boundary\'s answer rules, its one link to them (answerProblems)', async () => {
    for (const [breaks, name] of [['slash-name', 'pf0/vf2'], ['name-300', 'p'.repeat(300)]] as const) {
      const problems = answerProblems('create', { plug: true, ctxOut: { name, type: '', ifaceOptions: new Map() }, handle: Buffer.alloc(0), declineReason: '', declineMessage: '' });
      const { endpoint } = await broken(breaks);
      const verdict = (await check(endpoint)).results.find((r) => r.rule === 'create-answer-within-rules')!;
      expect(verdict, breaks).toEqual(problems.length === 0 ? expect.objectContaining({ result: 'PASS' }) : { rule: 'create-answer-within-rules', result: 'FAIL', saw: problems.join('; ') });
    }
  });

  it('a provider that hangs altogether (SIGSTOP): every call ends by its deadline, the run ends, FAILs say so', async () => {
    const { endpoint, process: provider } = await broken('none');
    provider.proc.kill('SIGSTOP');
    const report = await check(endpoint, 500);
    provider.proc.kill('SIGCONT');
    expect(failed(report).map((r) => [r.rule, r.saw])).toEqual([
      ['health-serving', 'Health/Check "vifplug.provider.v1.Provider": no answer within 0.5 s (DEADLINE_EXCEEDED)'],
      ['still-serving', 'GetInfo: no answer within 0.5 s (DEADLINE_EXCEEDED)'],
    ]);
    expect(report.results.filter((r) => r.result === 'SKIP').every((r) => r.saw.startsWith('not checked: the provider stopped answering after health-serving (GetInfo then: no answer within 0.5 s'))).toBe(true);
  });

  it('no provider at the endpoint: endpoint-usable FAILs, and vifplugctl exits 6 with a line per rule', async () => {
    const run = await ctl('provider-check', '--endpoint', `unix://${join(dir.path, 'nobody.sock')}`, '--type', 'raw', '--timeout', '1');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`FAIL  endpoint-usable               PROVIDER_UNREACHABLE: no provider answers at unix://${join(dir.path, 'nobody.sock')}: no socket exists there (yet)`);
    expect(lines.at(-2)).toMatch(/^FAIL {2}still-serving {17}GetInfo: no answer: /);
    expect(lines.at(-1)).toBe('33 rules: 0 PASS, 2 FAIL, 31 SKIP');
    expect(run.code).toBe(6);
  });
});

describe('vifplugctl provider-check, its command line', () => {
  it.each([
    [['provider-check', '--type', 'raw'], 'provider-check needs --endpoint unix:///abs/path.sock: where the provider serves'],
    [['provider-check', '--endpoint', 'unix:///run/x.sock'], 'provider-check needs --type TYPE: the type the provider should serve'],
    [['provider-check', '--endpoint', 'unix:x.sock', '--type', 'raw'], '--endpoint: endpoint "unix:x.sock" is not usable: a provider socket must be named by its absolute path: unix:///abs/path.sock (three slashes)'],
    [['provider-check', '--endpoint', 'unix:///run/x.sock', '--type', 'raw', '--socket', '/run/vifplug/vifplug.sock'], 'provider-check talks to the provider at --endpoint, not to vifplugd: it takes no --socket'],
    [['provider-check', '--endpoint', '10.0.0.5:50051', '--type', 'raw'], '--endpoint 10.0.0.5:50051 is TCP: give --tls-ca (and --tls-cert, --tls-key), as vifplugd reaches TCP providers only over TLS'],
    [['provider-check', '--endpoint', 'unix:///run/x.sock', '--type', 'raw', '--decline-option', 'novalue'], '--decline-option "novalue" is not KEY=VALUE'],
    [['health', '--decline-option', 'a=b'], 'health takes no --decline-option; it is a flag of provider-check'],
  ])('refuses %j before it calls anything (exit 2)', async (args, message) => {
    const run = await ctl(...args);
    expect([run.code, run.stderr]).toEqual([2, `vifplugctl: ${message}\nTry 'vifplugctl --help'.\n`]);
  });
});

// --- the docs: docs/providers.md "Checking a provider" --------------------------------------------

describe('the docs of provider-check', () => {
  const groups: number[] = [];
  let docsDir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    docsDir = tempDir('vifplug-pcdoc-');
  });
  afterAll(() => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    docsDir.remove();
  });
  const localise = (text: string) => text.replaceAll('/run/vifplug', docsDir.path);

  it('run as they are shown: the sh blocks start a provider, each console command prints what is shown', async () => {
    const blocks = blocksCheckedBy('test/conformance/provider-check.test.ts');
    expect(blocks.map((b) => b.lang), blocks.map(where).join(', ')).toEqual(['sh', 'console']);
    for (const block of blocks) {
      if (block.lang === 'sh') {
        const proc = spawn('bash', ['-euo', 'pipefail', '-c', localise(block.body)], { cwd: ROOT, detached: true, stdio: 'ignore' });
        groups.push(proc.pid!);
        const code = await new Promise((resolve) => proc.on('exit', resolve));
        expect(code, where(block)).toBe(0);
        continue;
      }
      let status = 0;
      for (const step of steps(localise(block.body), (c) => c.startsWith('node ') || c.startsWith('echo '))) {
        const run = step.command.startsWith('echo ')
          ? { stdout: `${status}\n`, status: 0 }
          : spawnSync('bash', ['-c', step.command], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
        status = run.status ?? -1;
        expect(matchShape(step.expected, run.stdout, new Map()), `${where(block)}: $ ${step.command}\n${run.stdout}`).toBe(true);
      }
    }
  }, 60_000);
});
