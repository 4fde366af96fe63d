/**
 * Readers for the deployment examples: YAML manifests, systemd unit files,
 * and the vifplugd flags a command line passes.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';

export type Yaml = null | boolean | number | string | Yaml[] | { [key: string]: Yaml };

/** Every document of a YAML stream, as kubectl would read it. */
export function parseYamlDocuments(text: string): Yaml[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${String(doc.errors[0])}`);
    return doc.toJS() as Yaml;
  });
}

/** A Kubernetes memory quantity ("256Mi", "1Gi", "300M", "1048576") in bytes. */
export function quantityBytes(quantity: string): number {
  const m = /^([0-9]+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (m === null) throw new Error(`unsupported memory quantity ${JSON.stringify(quantity)}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

// ---------------------------------------------------------------------------
// systemd unit files
// ---------------------------------------------------------------------------

export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // A trailing backslash continues the value on the next line (comment lines in between are skipped).
    while (line.endsWith('\\') && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      if (next.startsWith('#') || next.startsWith(';')) continue;
      line = `${line.slice(0, -1).trimEnd()} ${next}`;
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map<string, string[]>();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === undefined || eq < 0) throw new Error(`unit line ${i + 1}: expected [Section] or Key=value, got ${JSON.stringify(line)}`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

/** The last value of a key (systemd's rule for single-valued settings). */
export function unitValue(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** A command line split as systemd splits ExecStart= (quotes and backslash escapes), without its prefixes (-, @, +, !). */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let word = '';
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') {
      const c = line[i]!;
      if (c === '"' || c === "'") {
        const end = line.indexOf(c, i + 1);
        if (end < 0) throw new Error(`unterminated ${c} in ${line}`);
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\' && i + 1 < line.length) {
        word += line[i + 1];
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  if (words.length > 0) words[0] = words[0]!.replace(/^[-@+!:]+/, '');
  return words;
}

// ---------------------------------------------------------------------------
// vifplugd flags
// ---------------------------------------------------------------------------

export const DAEMON = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugd.js');

let helpText: string | undefined;

/** `vifplugd --help` of the compiled daemon (the test setup builds it). */
export function daemonHelp(): string {
  if (helpText === undefined) {
    const help = spawnSync(process.execPath, [DAEMON, '--help'], { encoding: 'utf8' });
    if (help.status !== 0) throw new Error(`vifplugd --help exited with ${help.status}: ${help.stderr}; run npm run build`);
    helpText = help.stdout;
  }
  return helpText;
}

/** The long flags `vifplugd --help` documents. */
export function daemonHelpFlags(): Set<string> {
  return new Set([...daemonHelp().matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

/** The VIFPLUG_* variables `vifplugd --help` documents. */
export function daemonHelpVariables(): Set<string> {
  return new Set([...daemonHelp().matchAll(/\[(VIFPLUG_[A-Z0-9_]+)\]/g)].map((m) => m[1]!));
}

/** The `--flag` names in a vifplugd argument list (`--flag value` and `--flag=value`). */
export function flagNames(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
}

/** The values given to `flag` in an argument list, in both spellings. */
export function flagValues(args: readonly string[], flag: string): string[] {
  const values: string[] = [];
  args.forEach((arg, i) => {
    if (arg === flag && i + 1 < args.length) values.push(args[i + 1]!);
    else if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
  });
  return values;
}
