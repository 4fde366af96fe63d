/**
 * What vifplugd's and vifplug-ovn's command lines share: flags that an
 * environment variable may give instead, their help lines, and the values
 * both programs read alike (log levels, --metrics-listen).
 */

import { parseArgs } from 'node:util';

import { parseListen, type GrpcAddress, type TcpAddress } from '../api/endpoint';

/** A command-line mistake: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A flag of a long-running command, with the environment variable that may give it instead. */
export interface Flag {
  readonly env: string;
  /** A former name of `env`, still read when `env` is not set, with a deprecation warning. */
  readonly deprecatedEnv?: string;
  /** The value's placeholder in help ('' for a boolean). */
  readonly arg: string;
  readonly help: string;
  readonly multiple?: boolean;
  readonly boolean?: boolean;
}

export interface FlagValues<N extends string> {
  readonly help: boolean;
  readonly version: boolean;
  readonly positionals: readonly string[];
  /** Every value of a flag: given on the command line, else from its variable (a repeatable flag's variable is comma-separated). */
  raw(name: N): string[];
  one(name: N): string | undefined;
  /** A boolean flag; its variable takes 1/true/yes or 0/false/no. */
  bool(name: N): boolean;
  /**
   * How the user gave a flag, for messages about its value: `--name` when it
   * is on the command line, its variable's name when it came from there.
   */
  given(name: N): string;
}

/**
 * Reads `argv` against `flags`: flags win over the environment, which wins
 * over the caller's defaults. Throws UsageError for an unknown flag, a
 * missing value, or (without `positionals`) a stray argument.
 */
export function readFlags<N extends string>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<N, Flag>>,
  options: { positionals?: boolean } = {},
): FlagValues<N> {
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const [name, flag] of Object.entries(flags) as [string, Flag][]) {
    spec[name] = flag.boolean ? { type: 'boolean' } : { type: 'string', multiple: flag.multiple === true };
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: spec, allowPositionals: options.positionals === true, strict: true }));
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const raw = (name: N): string[] => {
    const given = values[name];
    if (Array.isArray(given)) return given.map(String);
    if (typeof given === 'string') return [given];
    const flag: Flag = flags[name];
    const fromEnv = variable(flag, env);
    if (fromEnv === undefined || fromEnv === '') return [];
    return flag.multiple ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean) : [fromEnv];
  };
  return {
    help: values.help === true,
    version: values.version === true,
    positionals,
    raw,
    one: (name) => raw(name)[0],
    given: (name) => {
      if (values[name] !== undefined) return `--${name}`;
      const flag: Flag = flags[name];
      const fromOld = flag.deprecatedEnv !== undefined && (env[flag.env] ?? '') === '' && (env[flag.deprecatedEnv] ?? '') !== '';
      return fromOld ? flag.deprecatedEnv! : flag.env;
    },
    bool: (name) => {
      if (values[name] === true) return true;
      const fromEnv = variable(flags[name], env);
      if (fromEnv === undefined || /^(|0|false|no)$/i.test(fromEnv)) return false;
      if (/^(1|true|yes)$/i.test(fromEnv)) return true;
      throw new UsageError(`${flags[name].env}="${fromEnv}" is not 1/true/yes or 0/false/no`);
    },
  };
}

/** A flag's variable; its former name, with a deprecation warning, when only that one is set. */
function variable(flag: Flag, env: NodeJS.ProcessEnv): string | undefined {
  const old = flag.deprecatedEnv === undefined ? undefined : env[flag.deprecatedEnv];
  if (old !== undefined && old !== '') {
    const ignored = env[flag.env] !== undefined && env[flag.env] !== '';
    process.emitWarning(`${flag.deprecatedEnv} is deprecated${ignored ? ` and ignored: ${flag.env} is set` : `: set ${flag.env} instead`}`, { type: 'DeprecationWarning', code: 'VIFPLUG_DEPRECATED_VARIABLE' });
    if (!ignored) return old;
  }
  return env[flag.env];
}

/** Where help puts a flag's variable: this column, or two spaces after a longer flag. */
const HELP_COLUMN = 32;

/** Help lines for `flags`: each flag with its variable, then what it does. */
export function flagHelp(flags: Readonly<Record<string, Flag>>): string[] {
  const lines: string[] = [];
  for (const [name, flag] of Object.entries(flags)) {
    lines.push(`${`  --${name}${flag.arg ? ` ${flag.arg}` : ''}`.padEnd(HELP_COLUMN - 2)}  [${flag.env}]`);
    lines.push(`      ${flag.help}`);
  }
  return lines;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(value: string, given = '--log-level'): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new UsageError(`${shown(given, value)} is not one of ${LOG_LEVELS.join(', ')}`);
}

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** --log-format: text or json; when not given, text on a terminal and JSON lines otherwise (a collector reads them). */
export function parseLogFormat(value: string | undefined, given = '--log-format', isTty = process.stdout.isTTY === true): LogFormat {
  if (value === undefined) return isTty ? 'text' : 'json';
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new UsageError(`${shown(given, value)} is not one of ${LOG_FORMATS.join(', ')}`);
}

/** --metrics-listen HOST:PORT (vifplugd's and vifplug-ovn's); undefined when not given: metrics are opt-in. */
export function parseMetricsListen(value: string | undefined, given = '--metrics-listen'): TcpAddress | undefined {
  if (value === undefined) return undefined;
  const expected = 'HOST:PORT, e.g. 127.0.0.1:9100 (0.0.0.0:9100 for every interface): Prometheus scrapes over TCP';
  if (/^\d+$/.test(value)) throw new UsageError(`${shown(given, value)} is a port alone; give HOST:PORT, e.g. 127.0.0.1:${value} (0.0.0.0:${value} for every interface)`);
  let address: GrpcAddress;
  try {
    address = parseListen(value);
  } catch {
    throw new UsageError(`${shown(given, value)} is not ${expected}`);
  }
  if (address.kind !== 'tcp') throw new UsageError(`${shown(given, value)} is not ${expected}`);
  return address;
}

/** An address flag's value (gRPC naming: unix:///abs.sock, unix:rel.sock, HOST:PORT), or a UsageError naming the flag as given. */
export function parseAddress(flag: string, spec: string, given = `--${flag}`): GrpcAddress {
  try {
    return parseListen(spec);
  } catch (err) {
    throw new UsageError(`${given} ${(err as Error).message}`);
  }
}

/**
 * A flag and its value as the user gave them, for a message:
 * `--timeout "x"` on the command line, `VIFPLUG_TIMEOUT="x"` from the environment.
 */
export function shown(given: string, value: string): string {
  const quoted = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return given.startsWith('-') ? `${given} ${quoted}` : `${given}=${quoted}`;
}
