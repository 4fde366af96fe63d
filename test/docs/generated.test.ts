/**
 * The parts of the docs that are generated from the code: the flag tables of
 * vifplugd and vifplug-ovn (from their FLAGS, the definitions their parsers
 * and --help use) and vifplugctl's --help. Each sits in a page between
 *
 *   <!-- BEGIN GENERATED NAME: npm run docs:gen -->
 *   <!-- END GENERATED NAME -->
 *
 * This test fails when one differs from what the code makes now; `npm run
 * docs:gen` (this test with VIFPLUG_DOCS_UPDATE=1) writes them. It also holds
 * the defaults the flags' help states to what the parser really does.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { FLAGS as DAEMON_FLAGS, parseDaemonArgs } from '../../src/cli/daemon-config';
import type { Flag } from '../../src/cli/flags';
import { FLAGS as AGENT_FLAGS } from '../../src/cli/vifplug-ovn';
import { RULES } from '../../src/conformance/rules';
import { ROOT, markdownFiles } from '../helpers/docs';

const UPDATE = process.env.VIFPLUG_DOCS_UPDATE === '1';

/** What each generated region holds. */
const GENERATORS: Record<string, { from: string; make: () => string }> = {
  'vifplugd-flags': { from: 'src/cli/daemon-config.ts', make: () => flagTable(DAEMON_FLAGS) },
  'vifplug-ovn-flags': { from: 'src/cli/vifplug-ovn.ts', make: () => flagTable(AGENT_FLAGS) },
  'vifplugctl-help': { from: 'src/cli/vifplugctl.ts', make: () => helpSession('vifplugctl') },
  'provider-check-rules': { from: 'src/conformance/rules.ts', make: () => rulesTable() },
};

// --- flag tables ------------------------------------------------------------------------------

interface FlagDoc {
  readonly meaning: string;
  /** What the help says the default is; undefined when it says nothing. */
  readonly default: string | undefined;
}

/**
 * A flag's help split into what it does and its default: the help ends with
 * a parenthesis whose `default X` (or `default: X`) clause is the default and
 * whose `required` clause says there is none; its other clauses stay.
 */
function splitHelp(help: string): FlagDoc {
  const last = /\s*\(([^()]*)\)$/.exec(help);
  if (last === null) return { meaning: help, default: undefined };
  const clauses = last[1]!.split('; ');
  const defaultClause = clauses.find((c) => /^default:? /.test(c) || c === 'required');
  if (defaultClause === undefined) return { meaning: help, default: undefined };
  const rest = clauses.filter((c) => c !== defaultClause);
  const meaning = help.slice(0, last.index) + (rest.length > 0 ? ` (${rest.join('; ')})` : '');
  return { meaning, default: defaultClause === 'required' ? 'required' : defaultClause.replace(/^default:? /, '') };
}

/** Markdown for a piece of help text: flags, addresses and paths as code, `|` escaped. */
function markdown(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/[^\s]+/g, (word) => {
            const [, open = '', core = '', close = ''] = /^(["(]*)(.*?)([",;:)]*)$/.exec(word)!;
            const code = /^--[a-z]/.test(core) || core.includes('://') || core.startsWith('/') || core.includes('<') || core.includes('$') || /^[a-z_]+:[^\s]/.test(core);
            return code ? `${open}\`${core}\`${close}` : word.replace(/\|/g, '\\|');
          }),
    )
    .join('');
}

function flagTable(flags: Readonly<Record<string, Flag>>): string {
  const rows = Object.entries(flags).map(([name, flag]) => {
    const doc = splitHelp(flag.help);
    const def = doc.default === undefined ? (flag.boolean ? 'off' : 'none') : doc.default;
    const variable = `\`${flag.env}\`${flag.multiple ? ' (comma-separated)' : ''}${flag.deprecatedEnv ? `; \`${flag.deprecatedEnv}\` is still read, with a warning` : ''}`;
    return `| \`--${name}${flag.arg ? ` ${flag.arg}` : ''}\`${flag.multiple ? ' (repeatable)' : ''} | ${variable} | ${/\s/.test(def) || def === 'none' || def === 'off' || def === 'required' ? markdown(def) : `\`${def}\``} | ${markdown(doc.meaning)} |`;
  });
  return ['| flag | variable | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

// --- provider-check's rules -----------------------------------------------------------------------

function rulesTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = RULES.map((rule) => {
    const when = 'capability' in rule ? ` Only when GetInfo announces \`${rule.capability.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}\`.` : '';
    return `| \`${rule.name}\` | ${cell(rule.checks)}${when} | ${cell(rule.source)} |`;
  });
  return ['| rule | what must hold | the contract\'s words |', '|---|---|---|', ...rows].join('\n');
}

// --- help as a checked session ---------------------------------------------------------------------

function helpSession(command: string): string {
  const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', `${command}.js`), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (run.status !== 0) throw new Error(`${command} --help exited ${run.status}: ${run.stderr}`);
  return ['```console checked host=none', `$ ${command} --help`, run.stdout.trimEnd(), '```'].join('\n');
}

// --- the regions ----------------------------------------------------------------------------------

const REGION = /(<!-- BEGIN GENERATED ([a-z0-9-]+): npm run docs:gen -->)\n([\s\S]*?)\n?(<!-- END GENERATED \2 -->)/g;

interface Region {
  readonly file: string;
  readonly name: string;
  readonly text: string;
}

function regions(): Region[] {
  return markdownFiles().flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(REGION)].map((m) => ({ file, name: m[2]!, text: m[3]! })));
}

if (UPDATE) {
  for (const file of markdownFiles()) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const made = text.replace(REGION, (_all, begin: string, name: string, _old: string, end: string) => {
      const generator = GENERATORS[name];
      if (generator === undefined) throw new Error(`${file}: no generator named ${name}; known: ${Object.keys(GENERATORS).join(', ')}`);
      return `${begin}\n${generator.make()}\n${end}`;
    });
    if (made !== text) writeFileSync(join(ROOT, file), made);
  }
}

describe('generated parts of the docs', () => {
  it('has each generated part once, in some page', () => {
    const found = regions().map((r) => r.name);
    expect(found.sort()).toEqual(Object.keys(GENERATORS).sort());
  });

  it.each(regions().map((r) => [`${r.file}: ${r.name}`, r] as const))('%s is what the code makes now', (_name, region) => {
    const generator = GENERATORS[region.name];
    expect(generator, `no generator named ${region.name}`).toBeDefined();
    expect(region.text, `${region.file}: ${region.name} differs from what ${generator!.from} defines; run npm run docs:gen`).toBe(generator!.make());
  });
});

describe('flag tables', () => {
  it('split help into meaning and default', () => {
    expect(splitHelp('where to serve; repeatable (default unix:///x.sock)')).toEqual({ meaning: 'where to serve; repeatable', default: 'unix:///x.sock' });
    expect(splitHelp('register sockets in DIR (DIR must not be writable by others; default: off)')).toEqual({ meaning: 'register sockets in DIR (DIR must not be writable by others)', default: 'off' });
    expect(splitHelp('the types (required; never a type ovn-controller serves too)')).toEqual({ meaning: 'the types (never a type ovn-controller serves too)', default: 'required' });
    expect(splitHelp('allow plaintext TCP (refused by default)')).toEqual({ meaning: 'allow plaintext TCP (refused by default)', default: undefined });
    expect(markdown('serve at http://HOST:PORT/metrics, see --addr (a|b) and `vifplug-ovn status`')).toBe('serve at `http://HOST:PORT/metrics`, see `--addr` (a\\|b) and `vifplug-ovn status`');
  });

  it('every flag states its default, or is a switch, or has none by nature', () => {
    for (const flags of [DAEMON_FLAGS, AGENT_FLAGS] as Readonly<Record<string, Flag>>[]) {
      for (const [name, flag] of Object.entries(flags)) {
        // TLS files and alternatives to another flag have no default: they are off until given.
        if (flag.boolean || /FILE|HOST:PORT|NAME/.test(flag.arg) || name === 'addr') continue;
        expect(splitHelp(flag.help).default, `--${name}: its help states no default`).toBeDefined();
      }
    }
  });

  it("vifplugd: a default the help states is the parser's (giving it changes nothing)", () => {
    const builtins = ['dummy', 'representor'];
    const unset = parseDaemonArgs([], {}, builtins);
    let checked = 0;
    for (const [name, flag] of Object.entries(DAEMON_FLAGS) as [string, Flag][]) {
      const stated = splitHelp(flag.help).default;
      // Only a value can be given back: "every built-in" or "devlink on PATH" are descriptions.
      if (stated === undefined || /\s/.test(stated) || stated === 'off') continue;
      expect(parseDaemonArgs([`--${name}`, stated], {}, builtins), `--${name} ${stated}`).toEqual(unset);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});
