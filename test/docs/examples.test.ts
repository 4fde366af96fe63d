/**
 * The docs' examples, executed: what they show must be what a user gets.
 * Every markdown file of the project is read (README.md, docs/, demo/,
 * bench/: test/helpers/docs.ts), and every fenced block in it says what it is.
 *
 * The convention (for every page, whoever writes it): a fence's info string
 * starts with a language, and an example says how it is checked.
 *
 *   ```console checked host=demo     a shell session, run here command by command
 *   ```ts checked host=switchdev     a TypeScript program, run here (imports of 'vifplug' get src/)
 *   ```python checked host=none      a Python program, run with /usr/bin/python3 and stubs protoc makes from proto/
 *   ```ts checked-by=test/x.test.ts  run by that test (which must exist), for setups of its own; any
 *                                    language may say so (a walkthrough's sh blocks do)
 *   ```console not-checked           cannot run in a test (say why in the text next to it)
 *
 * A fence without a language fails. Every console, ts and python block needs
 * one of these tags; other languages (sh for installing, building and
 * containers; text for layouts and synopses; yaml, ini, ...) are shown as
 * they are.
 *
 * A checked block runs against its own vifplugd, started by this test on the
 * host named by host= (HOSTS below: none, demo, switchdev, hypervisor; add one there).
 * The socket paths the docs use (/run/vifplug/vifplug.sock,
 * /tmp/vifplug-demo.sock) are that daemon's socket.
 *
 * In a session, `$ ` starts a command (continued over lines while a quote is
 * open or a line ends in \); the lines up to the next `$ ` are its output,
 * stdout then stderr, compared in shape:
 * - runs of spaces and tabs count as one space, so tables may be re-aligned;
 * - `...` stands for any text (a whole line of `...`: any number of lines);
 * - an id the daemon hands out (24 characters of base64url) matches any id,
 *   and the same id in the docs stands for the same real one in later commands;
 * - output ends with a newline, as the shell's prompt then starts a line of
 *   its own; a command whose output does not (grpcurl -format-error) is shown
 *   as a terminal shows it, the next prompt on its last line: `}$ echo $?`.
 * Commands: vifplugctl (or npx vifplugctl: the compiled dist/cli/vifplugctl.js),
 * grpcurl (test/helpers/grpcurl.ts: what real grpcurl prints; 1.9.3 unless
 * the block says grpcurl=1.8.7, 1.9.1, ...), echo (with $? for the last exit
 * status), NAME=value, NAME=$(command), and `# comments`. A new command is one
 * entry in COMMANDS.
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { ROOT, docBlocks, markdownFiles, where, type Block } from '../helpers/docs';
import { GRPCURL_VERSIONS, grpcurl, type CommandResult, type GrpcurlVersion } from '../helpers/grpcurl';
import { devlinkJsonFromText } from '../helpers/host/devlink-text';
import { FakeHost } from '../helpers/host/fake-host';
import { readFixture } from '../helpers/host/fixtures';
import { layOutDevlinkHost, layOutHypervisor } from '../helpers/host/layouts';
import { tempDir } from '../helpers/server';
import { ID, matchShape, steps as sessionSteps, words, type Step } from '../helpers/session';

const CTL = join(ROOT, 'dist', 'cli', 'vifplugctl.js');
/** Socket paths the docs use; each checked block's daemon stands behind them. */
const DOC_SOCKETS = ['/run/vifplug/vifplug.sock', '/tmp/vifplug-demo.sock'];

// --- the docs' fenced blocks ------------------------------------------------------

const BLOCKS = docBlocks();
const EXAMPLE_LANGS = new Set(['console', 'ts', 'typescript', 'python']);
const examples = BLOCKS.filter((b) => EXAMPLE_LANGS.has(b.lang));

// --- hosts and daemons ----------------------------------------------------------------

interface Host {
  readonly args: string[];
  remove(): void;
}

/** The hardware a block's daemon sees. */
const HOSTS: Record<string, () => Host> = {
  /** No hardware: an empty /sys, no devlink ports. */
  none: () => {
    const host = new FakeHost();
    return { args: ['--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin], remove: () => host.remove() };
  },
  /** The simulated BlueField DPU of npm run demo, with its flags. */
  demo: () => ({
    args: ['--sysfs-root', join(ROOT, 'demo', 'dpu', 'sys'), '--devlink-bin', join(ROOT, 'demo', 'dpu', 'bin', 'devlink'), '--ip-bin', join(ROOT, 'demo', 'dpu', 'bin', 'ip')],
    remove: () => undefined,
  }),
  /** A ConnectX-6 host in switchdev mode (fixture 01): PF enp7s0f0, MAC 10:70:fd:df:9c:3a, VF representors enp7s0f0_0-4. */
  switchdev: () => {
    const host = new FakeHost();
    layOutDevlinkHost(host, devlinkJsonFromText(readFixture('01x-mlx5-cx6-host-switchdev-vfs-0-4-extended.txt')), {
      uplinks: { enp7s0f0: { address: '10:70:fd:df:9c:3a' } },
    });
    return { args: ['--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin], remove: () => host.remove() };
  },
  /** The hypervisor of a BlueField (layOutHypervisor): PF enp5s0f0 on 0000:05:00.0, MAC b8:3f:d2:e1:8f:dc, VFs 0-3 on 0000:05:00.3-6, card MT2113X00001. */
  hypervisor: () => {
    const host = layOutHypervisor(new FakeHost());
    return { args: ['--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin], remove: () => host.remove() };
  },
};

interface Served {
  readonly socket: string;
  readonly dir: string;
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(block: Block): Promise<Served> {
  const name = block.attrs.get('host') ?? 'none';
  const make = HOSTS[name];
  if (make === undefined) throw new Error(`${where(block)}: unknown host=${name}; hosts: ${Object.keys(HOSTS).join(', ')}`);
  const host = make();
  cleanups.push(() => host.remove());
  const dir = tempDir('docs-');
  cleanups.push(() => dir.remove());
  const socket = join(dir.path, 'vifplug.sock');
  const daemon: Daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--resync-interval', '0', ...host.args]);
  cleanups.push(() => daemon.stop());
  return { socket, dir: dir.path };
}

// --- a console session (read and compared by test/helpers/session.ts) ---------------------

/** Whether `command` is one a session may run: a prompt glued to output is taken as one only then. */
function isCommand(command: string): boolean {
  const first = command.split(/\s/)[0] ?? '';
  return first === 'echo' || first in COMMANDS || /^[A-Za-z_][A-Za-z0-9_]*=/.test(first);
}

function steps(body: string): Step[] {
  return sessionSteps(body, isCommand);
}

type Command = (args: string[], served: Served, block: Block) => Promise<CommandResult>;

/** What a session may run. */
const COMMANDS: Record<string, Command> = {
  vifplugctl: (args, served) => run(process.execPath, [CTL, ...args], { VIFPLUG_SOCKET: served.socket }),
  npx: (args, served, block) => {
    if (args[0] !== 'vifplugctl') throw new Error(`npx ${args[0]}: only npx vifplugctl is known here`);
    return COMMANDS['vifplugctl']!(args.slice(1), served, block);
  },
  grpcurl: (args, _served, block) => grpcurl(args, { version: grpcurlVersion(block) }),
};

/** The grpcurl a session is written for: grpcurl=VERSION in its info string, else the newest. */
function grpcurlVersion(block: Block): GrpcurlVersion | undefined {
  const version = block.attrs.get('grpcurl');
  if (version === undefined) return undefined;
  if (!(GRPCURL_VERSIONS as readonly string[]).includes(version)) throw new Error(`${where(block)}: grpcurl=${version} is not one of ${GRPCURL_VERSIONS.join(', ')}`);
  return version as GrpcurlVersion;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve) => {
    const proc = spawn(bin, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
  });
}

/** One command line: NAME=value, NAME=$(command), echo, or a command of COMMANDS. */
async function execute(command: string, vars: Map<string, string>, served: Served, block: Block): Promise<CommandResult> {
  const substitution = /^([A-Za-z_][A-Za-z0-9_]*)=\$\((.+)\)$/s.exec(command.trim());
  if (substitution) {
    const inner = await execute(substitution[2]!, vars, served, block);
    vars.set(substitution[1]!, inner.stdout.trim());
    return { stdout: '', stderr: inner.stderr, code: inner.code };
  }
  const argv = words(command, vars);
  const assignment = argv.length === 1 ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(argv[0]!) : null;
  if (assignment) {
    vars.set(assignment[1]!, assignment[2]!);
    return { stdout: '', stderr: '', code: 0 };
  }
  if (argv[0] === 'echo') return { stdout: `${argv.slice(1).join(' ')}\n`, stderr: '', code: 0 };
  const run = COMMANDS[argv[0] ?? ''];
  if (run === undefined) throw new Error(`${where(block)}: "${argv[0]}" is not a command this test runs; add it to COMMANDS`);
  return run(argv.slice(1), served, block);
}

async function runSession(block: Block): Promise<void> {
  const served = await serve(block);
  const vars = new Map<string, string>([['?', '0']]);
  const ids = new Map<string, string>();
  for (const step of steps(block.body)) {
    // Ids already seen stand for the real ones; the docs' sockets for this daemon's.
    let command = step.command.replace(ID, (id) => ids.get(id) ?? id);
    for (const path of DOC_SOCKETS) command = command.split(path).join(served.socket);
    const result = await execute(command, vars, served, block);
    vars.set('?', String(result.code));
    const actual = (result.stdout + result.stderr).split(served.socket).join(DOC_SOCKETS[0]!);
    const shown = `${where(block)}\n$ ${step.command}\n--- the docs show:\n${step.expected}\n--- got (exit ${result.code}):\n${actual}`;
    expect(matchShape(step.expected, actual, ids), shown).toBe(true);
    if (actual !== '') expect(actual.endsWith('\n'), `${shown}\n--- ${step.unterminated ? 'shown without a final newline, but it has one' : 'it ends without a newline: show the next prompt on its last line'}`).toBe(!step.unterminated);
  }
}

// --- programs ---------------------------------------------------------------------------------

async function runTypeScript(block: Block): Promise<void> {
  const served = await serve(block);
  const file = join(served.dir, `example-${block.line}.ts`);
  const source = block.body
    .replace(/from 'vifplug'/g, `from '${join(ROOT, 'src', 'index')}'`)
    .split(`unix://${DOC_SOCKETS[0]}`)
    .join(`unix://${served.socket}`);
  writeFileSync(file, `${source}\nexport {};\n`);
  await import(file);
}

function runPython(block: Block): Promise<void> {
  return serve(block).then((served) => {
    const gen = join(served.dir, 'gen');
    mkdirSync(gen);
    // The offline command the docs give next to the example.
    const protoc = spawnSync('protoc', [`-I${join(ROOT, 'proto')}`, `--python_out=${gen}`, `--grpc_out=${gen}`, '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', join(ROOT, 'proto', 'vifplug', 'v1', 'vifplug.proto'), ...['status', 'error_details'].map((f) => join(ROOT, 'proto', 'google', 'rpc', `${f}.proto`))], {
      encoding: 'utf8',
    });
    expect(protoc.status, protoc.stderr).toBe(0);
    const file = join(served.dir, `example-${block.line}.py`);
    writeFileSync(file, block.body.split(`unix://${DOC_SOCKETS[0]}`).join(`unix://${served.socket}`));
    const python = spawnSync('/usr/bin/python3', [file], { encoding: 'utf8', env: { PATH: process.env.PATH, PYTHONPATH: gen }, timeout: 30_000 });
    expect(python.status, `${where(block)}: ${python.stderr}`).toBe(0);
  });
}

// --- the checks -------------------------------------------------------------------------------

it('reads every markdown page of the project', () => {
  const files = markdownFiles();
  expect(files[0]).toBe('README.md');
  expect(files).toContain('demo/README.md');
  expect(files.filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(5);
});

it('finds a language on every fence', () => {
  expect(BLOCKS.filter((b) => b.lang === '').map(where)).toEqual([]);
});

it('says of every example how it is checked', () => {
  const unmarked = examples.filter((b) => !b.tags.has('checked') && !b.tags.has('not-checked') && !b.attrs.has('checked-by'));
  expect(unmarked.map(where)).toEqual([]);
  // Only sessions and programs run here; anything else checked is checked by a test of its own.
  expect(BLOCKS.filter((b) => b.tags.has('checked') && !EXAMPLE_LANGS.has(b.lang)).map(where)).toEqual([]);
  for (const b of BLOCKS.filter((x) => x.attrs.has('checked-by'))) {
    const test = b.attrs.get('checked-by')!;
    expect(existsSync(join(ROOT, test)), `${where(b)}: checked-by=${test} does not exist`).toBe(true);
    expect(readFileSync(join(ROOT, test), 'utf8'), `${where(b)}: ${test} does not find its blocks (blocksCheckedBy)`).toContain('blocksCheckedBy(');
  }
});

describe.each(examples.filter((b) => b.tags.has('checked')).map((b) => [where(b), b] as const))('%s', (_name, block) => {
  it(`runs as shown (${block.lang})`, async () => {
    if (block.lang === 'console') await runSession(block);
    else if (block.lang === 'ts' || block.lang === 'typescript') await runTypeScript(block);
    else if (block.lang === 'python') await runPython(block);
  });
});

describe('the session runner', () => {
  it('compares in shape: spaces, ..., and ids bound across commands', () => {
    const ids = new Map<string, string>();
    expect(matchShape('ctx: Sz1Gp6p1Yb9jq3YbZf221wBa (destroyed)\n...', 'ctx:   AAAAbbbb1111cccc2222dd-_ (destroyed)\nmore\nlines', ids)).toBe(true);
    expect(ids.get('Sz1Gp6p1Yb9jq3YbZf221wBa')).toBe('AAAAbbbb1111cccc2222dd-_');
    expect(matchShape('id Sz1Gp6p1Yb9jq3YbZf221wBa', 'id ZZZZbbbb1111cccc2222dd-_', ids)).toBe(false);
    expect(matchShape('no live ctx has id ...; prepare again', 'no live ctx has id "x"; prepare again', ids)).toBe(true);
    expect(matchShape('SERVING', 'NOT_SERVING', ids)).toBe(false);
  });

  it('reads shell words as a shell does', () => {
    const vars = new Map([['S', '/run/x.sock'], ['ID', 'abc']]);
    expect(words(`grpcurl -d '{"instanceId": "'$ID'"}' unix://$S list # comment`, vars)).toEqual(['grpcurl', '-d', '{"instanceId": "abc"}', 'unix:///run/x.sock', 'list']);
    expect(steps('$ grpcurl -d \'{\n  "a": 1\n}\' x\n{}\n$ echo $?\n0').map((s) => s.command)).toEqual(['grpcurl -d \'{\n  "a": 1\n}\' x', 'echo $?']);
  });

  it('takes a prompt after output on the same line as output without a final newline', () => {
    expect(steps('$ grpcurl -format-error x\n{\n  "code": 5\n}$ echo $?\n69')).toEqual([
      { command: 'grpcurl -format-error x', expected: '{\n  "code": 5\n}', unterminated: true },
      { command: 'echo $?', expected: '69', unterminated: false },
    ]);
    // Not a prompt: what follows "$ " is no command a session runs.
    expect(steps('$ echo a\ncost: 5$ per port').map((s) => s.expected)).toEqual(['cost: 5$ per port']);
  });
});
