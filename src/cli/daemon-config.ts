import { parseArgs } from 'node:util';

import { parseListen, type ListenAddress } from '../server/listen';

/** A command-line mistake: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LISTEN = 'unix:///run/vifplug/vifplug.sock';

export interface DaemonConfig {
  readonly listen: readonly ListenAddress[];
  /** Built-in provider types to register at start-up. */
  readonly providers: readonly string[];
  readonly logLevel: LogLevel;
  readonly socketMode: number;
  readonly shutdownGraceMs: number;
}

export type ParsedCommand = { readonly kind: 'run'; readonly config: DaemonConfig } | { readonly kind: 'help' } | { readonly kind: 'version' };

/**
 * Every flag, with its environment variable and default. Flags win over the
 * environment, which wins over the default; a repeatable flag's variable takes
 * a comma-separated list.
 */
const FLAGS = {
  listen: { env: 'VIFPLUG_LISTEN', multiple: true, arg: 'ADDR', help: `where to serve: unix:///abs/path.sock, unix:rel.sock or HOST:PORT; repeatable (default ${DEFAULT_LISTEN})` },
  providers: { env: 'VIFPLUG_PROVIDERS', multiple: false, arg: 'LIST', help: 'built-in provider types registered at start, comma-separated, or "none" (default: every built-in)' },
  'log-level': { env: 'VIFPLUG_LOG_LEVEL', multiple: false, arg: 'LEVEL', help: `${LOG_LEVELS.join(', ')} (default info)` },
  'socket-mode': { env: 'VIFPLUG_SOCKET_MODE', multiple: false, arg: 'OCTAL', help: 'permission bits of unix sockets (default 0660)' },
  'shutdown-grace': { env: 'VIFPLUG_SHUTDOWN_GRACE', multiple: false, arg: 'SECONDS', help: 'how long calls in flight may finish after SIGTERM (default 10)' },
} as const;

type FlagName = keyof typeof FLAGS;

export function usage(builtins: readonly string[]): string {
  const lines = [
    'Usage: vifplugd [FLAGS]',
    '',
    "Serves OVN's VIF plug provider framework over gRPC (vifplug.v1.VifPlug, health, reflection).",
    '',
    'Flags (each also read from the environment variable shown):',
  ];
  for (const [name, flag] of Object.entries(FLAGS)) {
    lines.push(`  --${name} ${flag.arg}`.padEnd(32) + `[${flag.env}]`);
    lines.push(`      ${flag.help}`);
  }
  lines.push('  --help, -h                    this text', '  --version                     the version', '');
  lines.push(`Built-in providers: ${builtins.join(', ')}`, '');
  lines.push('Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), 1 on a runtime failure, 2 on bad flags.');
  lines.push('', 'Example:', '  vifplugd --listen unix:///run/vifplug/vifplug.sock --listen 127.0.0.1:50051 --providers dummy');
  return lines.join('\n');
}

/** Reads flags and environment into a config, or throws UsageError. */
export function parseDaemonArgs(argv: readonly string[], env: NodeJS.ProcessEnv, builtins: readonly string[]): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const [name, flag] of Object.entries(FLAGS)) options[name] = { type: 'string', multiple: flag.multiple };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }));
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  const raw = (name: FlagName): string[] => {
    const given = values[name];
    if (Array.isArray(given)) return given.map(String);
    if (typeof given === 'string') return [given];
    const fromEnv = env[FLAGS[name].env];
    if (fromEnv === undefined || fromEnv === '') return [];
    return FLAGS[name].multiple ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean) : [fromEnv];
  };
  const one = (name: FlagName): string | undefined => raw(name)[0];

  const listenSpecs = raw('listen');
  const listen: ListenAddress[] = [];
  for (const spec of listenSpecs.length > 0 ? listenSpecs : [DEFAULT_LISTEN]) {
    try {
      listen.push(parseListen(spec));
    } catch (err) {
      throw new UsageError(`--listen ${(err as Error).message}`);
    }
  }
  const seen = new Set<string>();
  for (const address of listen) {
    const key = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
    if (seen.has(key) && !(address.kind === 'tcp' && address.port === 0)) throw new UsageError(`--listen ${address.spec} is given twice`);
    seen.add(key);
  }

  return {
    kind: 'run',
    config: {
      listen,
      providers: parseProviders(one('providers'), builtins),
      logLevel: parseLogLevel(one('log-level') ?? 'info'),
      socketMode: parseMode(one('socket-mode') ?? '0660'),
      shutdownGraceMs: parseSeconds('shutdown-grace', one('shutdown-grace') ?? '10') * 1000,
    },
  };
}

function parseProviders(value: string | undefined, builtins: readonly string[]): string[] {
  if (value === undefined) return [...builtins];
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 1 && list[0] === 'none') return [];
  if (list.length === 0) throw new UsageError('--providers is empty; name built-in types or "none"');
  for (const type of list) {
    if (!builtins.includes(type)) {
      throw new UsageError(`--providers: unknown provider "${type}"; built-in providers: ${builtins.join(', ')} (or "none")`);
    }
  }
  if (new Set(list).size !== list.length) throw new UsageError(`--providers lists a provider twice: ${value}`);
  return list;
}

function parseLogLevel(value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new UsageError(`--log-level "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new UsageError(`--socket-mode "${value}" is not an octal mode such as 0660`);
  const mode = parseInt(value, 8);
  if ((mode & 0o600) !== 0o600) throw new UsageError(`--socket-mode ${value} would lock the daemon's own user out; include 0600`);
  return mode;
}

function parseSeconds(flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new UsageError(`--${flag} "${value}" is not a number of seconds`);
  return Number(value);
}
