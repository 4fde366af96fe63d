/**
 * vifplugd's flags and their environment variables, read into the daemon's
 * config (daemon.ts): every check an operator's mistake can fail is made
 * here, before anything starts, and refused with a UsageError (exit 2).
 * Defaults are the daemon's own (DEFAULT_DAEMON_CONFIG); help shows them.
 */

import { isLoopback, type GrpcAddress } from '../api/endpoint';
import { DEFAULT_DAEMON_CONFIG, DEFAULT_LISTEN, type DaemonConfig, type RemoteProvidersConfig } from '../daemon';
import { DEFAULT_REPRESENTOR_CONFIG } from '../providers/representor';
import { DEFAULT_LIMITS } from '../registry';
import { LOG_LEVELS, UsageError, flagHelp, parseAddress, parseLogFormat, parseLogLevel, parseMetricsListen, readFlags, shown, type Flag, type LogFormat, type LogLevel } from './flags';

export { UsageError };

export type ParsedCommand =
  | { readonly kind: 'run'; readonly config: DaemonConfig; readonly logLevel: LogLevel; readonly logFormat: LogFormat }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

const DEFAULTS = DEFAULT_DAEMON_CONFIG;
const DEFAULT_REMOTE = DEFAULTS.remoteProviders!;

/**
 * Every flag, with its environment variable. Flags win over the environment,
 * which wins over the default; a repeatable flag's variable takes a
 * comma-separated list; a boolean variable takes 1/true/yes or 0/false/no.
 */
export const FLAGS = {
  listen: { env: 'VIFPLUG_LISTEN', multiple: true, arg: 'ADDR', help: `where to serve: unix:///abs/path.sock, unix:rel.sock or HOST:PORT; repeatable (default ${DEFAULT_LISTEN})` },
  providers: { env: 'VIFPLUG_PROVIDERS', arg: 'LIST', help: 'built-in provider types registered at start, comma-separated, or "none" (default: every built-in)' },
  'log-level': { env: 'VIFPLUG_LOG_LEVEL', arg: 'LEVEL', help: `${LOG_LEVELS.join(', ')} (default info)` },
  'log-format': { env: 'VIFPLUG_LOG_FORMAT', arg: 'FORMAT', help: 'text (one readable line per event) or json (one JSON object per line, for collectors) (default: text on a terminal, json otherwise)' },
  'socket-mode': { env: 'VIFPLUG_SOCKET_MODE', arg: 'OCTAL', help: 'permission bits of unix sockets (default 0660)' },
  'socket-group': { env: 'VIFPLUG_SOCKET_GROUP', arg: 'GROUP', help: 'group (name or number) that owns unix sockets (default: the daemon\'s)' },
  'tls-cert': { env: 'VIFPLUG_TLS_CERT', arg: 'FILE', help: 'PEM certificate (chain) for TCP listeners; re-read on SIGHUP' },
  'tls-key': { env: 'VIFPLUG_TLS_KEY', arg: 'FILE', help: 'PEM private key of --tls-cert' },
  'tls-client-ca': { env: 'VIFPLUG_TLS_CLIENT_CA', arg: 'FILE', help: 'PEM CA bundle: TCP clients must present a certificate it signed (mutual TLS)' },
  'insecure-tcp': { env: 'VIFPLUG_INSECURE_TCP', boolean: true, arg: '', help: 'allow plaintext TCP on non-loopback addresses (refused by default)' },
  'metrics-listen': { env: 'VIFPLUG_METRICS_LISTEN', arg: 'HOST:PORT', help: 'serve Prometheus metrics at http://HOST:PORT/metrics (default: off)' },
  'max-ctx': { env: 'VIFPLUG_MAX_CTX', arg: 'N', help: `live ctxs; PreparePort beyond it is RESOURCE_EXHAUSTED (default ${DEFAULT_LIMITS.maxCtxs})` },
  'ctx-ttl': { env: 'VIFPLUG_CTX_TTL', arg: 'SECONDS', help: `ctxs not released after this long are reaped; 0 never (default ${DEFAULT_LIMITS.ctxTtlMs / 1000})` },
  'provider-timeout': { env: 'VIFPLUG_PROVIDER_TIMEOUT', arg: 'SECONDS', help: `longest a provider callback may take (default ${DEFAULT_LIMITS.providerTimeoutMs / 1000})` },
  'max-provider-calls': { env: 'VIFPLUG_MAX_PROVIDER_CALLS', arg: 'N', help: `concurrent calls per provider instance (default ${DEFAULT_LIMITS.maxCallsPerInstance})` },
  'shutdown-grace': { env: 'VIFPLUG_SHUTDOWN_GRACE', arg: 'SECONDS', help: `how long calls in flight may finish after SIGTERM (default ${DEFAULTS.shutdownGraceMs / 1000})` },
  'sysfs-root': { env: 'VIFPLUG_SYSFS_ROOT', arg: 'DIR', help: `directory laid out like /sys, e.g. the host's /sys mounted in a container (default ${DEFAULT_REPRESENTOR_CONFIG.sysfsRoot})` },
  'devlink-bin': { env: 'VIFPLUG_DEVLINK_BIN', arg: 'PATH', help: `iproute2 devlink executable; missing or failing means sysfs only (default: ${DEFAULT_REPRESENTOR_CONFIG.devlinkBin} on PATH)` },
  'ip-bin': { env: 'VIFPLUG_IP_BIN', arg: 'PATH', help: `iproute2 ip executable, for link events (default: ${DEFAULT_REPRESENTOR_CONFIG.ipBin} on PATH)` },
  'resync-interval': { env: 'VIFPLUG_RESYNC_INTERVAL', arg: 'SECONDS', help: `full hardware re-read period besides events; 0 never (default ${DEFAULT_REPRESENTOR_CONFIG.resyncIntervalMs / 1000})` },
  'representor-dpdk-devargs': { env: 'VIFPLUG_REPRESENTOR_DPDK_DEVARGS', boolean: true, arg: '', help: 'on a chassis whose br-int is datapath_type=netdev, also answer options:dpdk-devargs (<PCI address>,representor=[c#]pf#vf#) for the drivers whose DPDK numbering is known, refusing the others; off: type=dpdk alone, which OVS-DOCA opens by netdev name' },
  registration: { env: 'VIFPLUG_REGISTRATION', arg: 'WHO', help: 'who may call Register/Unregister: unix (callers on a unix socket of the daemon), any (TCP callers too), off (nobody; providers come from --providers and --provider-dir) (default unix)' },
  'provider-dir': { env: 'VIFPLUG_PROVIDER_DIR', arg: 'DIR', help: 'register every <name>.sock provider socket that appears in DIR, unregister it when it goes (DIR must not be writable by others; default: off)' },
  'provider-probe-interval': { env: 'VIFPLUG_PROVIDER_PROBE_INTERVAL', arg: 'SECONDS', help: `health probes of remote providers, and the longest wait between attempts to reach one that is down (default ${DEFAULT_REMOTE.probeIntervalMs / 1000})` },
  'provider-tls-ca': { env: 'VIFPLUG_PROVIDER_TLS_CA', arg: 'FILE', help: 'PEM CA bundle that signs the certificates of providers reached over TCP (TCP endpoints need it)' },
  'provider-tls-cert': { env: 'VIFPLUG_PROVIDER_TLS_CERT', arg: 'FILE', help: 'PEM client certificate presented to providers over TCP (mutual TLS)' },
  'provider-tls-key': { env: 'VIFPLUG_PROVIDER_TLS_KEY', arg: 'FILE', help: 'PEM private key of --provider-tls-cert' },
} as const satisfies Record<string, Flag>;

type FlagName = keyof typeof FLAGS;

export function usage(builtins: readonly string[]): string {
  const lines = [
    'Usage: vifplugd [FLAGS]',
    '',
    "Serves OVN's VIF plug provider framework over gRPC (vifplug.v1.VifPlug, health, reflection).",
    '',
    'Flags (each also read from the environment variable shown):',
  ];
  lines.push(...flagHelp(FLAGS));
  lines.push('  --help, -h                    this text', '  --version                     the version', '');
  lines.push(`Built-in providers: ${builtins.join(', ')}`, '');
  lines.push('Signals: SIGTERM/SIGINT drain and exit; SIGHUP re-reads the TLS files.');
  lines.push('Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad flags.');
  lines.push('', 'Example:', '  vifplugd --listen unix:///run/vifplug/vifplug.sock --listen 127.0.0.1:50051 --providers dummy,representor');
  return lines.join('\n');
}

/** Reads flags and environment into a config, or throws UsageError. */
export function parseDaemonArgs(argv: readonly string[], env: NodeJS.ProcessEnv, builtins: readonly string[]): ParsedCommand {
  const flags = readFlags(argv, env, FLAGS);
  if (flags.help) return { kind: 'help' };
  if (flags.version) return { kind: 'version' };
  const { raw, one, bool, given } = flags;
  const seconds = (name: FlagName, fallback: number): number => parseNumber(given(name), one(name), fallback, true);
  const count = (name: FlagName, fallback: number): number => {
    const n = parseNumber(given(name), one(name), fallback, false);
    if (n < 1) throw new UsageError(`${shown(given(name), one(name)!)} must be at least 1`);
    return n;
  };

  const listen = parseListenFlags(raw('listen'), given('listen'));
  const tls = parseTls(one('tls-cert'), one('tls-key'), one('tls-client-ca'));
  const insecureTcp = bool('insecure-tcp');
  const tcp = listen.filter((a) => a.kind === 'tcp');
  if (tls !== undefined && tcp.length === 0) throw new UsageError('--tls-cert applies to TCP listeners, and no --listen HOST:PORT is given');
  for (const address of tcp) {
    if (tls === undefined && !insecureTcp && !isLoopback(address)) {
      throw new UsageError(
        `--listen ${address.spec} would serve plaintext gRPC beyond this host; anyone who reaches it could plug interfaces. ` +
          'Give --tls-cert and --tls-key (and --tls-client-ca for mutual TLS), listen on loopback, or pass --insecure-tcp',
      );
    }
  }
  const metricsListen = parseMetricsListen(one('metrics-listen'), given('metrics-listen'));

  return {
    kind: 'run',
    logLevel: parseLogLevel(one('log-level') ?? 'info', given('log-level')),
    logFormat: parseLogFormat(one('log-format'), given('log-format')),
    config: {
      listen,
      providers: parseProviders(one('providers'), builtins, given('providers')),
      socketMode: parseMode(one('socket-mode') ?? `0${DEFAULTS.socketMode.toString(8)}`, given('socket-mode')),
      socketGroup: one('socket-group'),
      tls,
      insecureTcp,
      metricsListen,
      shutdownGraceMs: seconds('shutdown-grace', DEFAULTS.shutdownGraceMs / 1000) * 1000,
      limits: {
        maxCtxs: count('max-ctx', DEFAULT_LIMITS.maxCtxs),
        ctxTtlMs: seconds('ctx-ttl', DEFAULT_LIMITS.ctxTtlMs / 1000) * 1000,
        providerTimeoutMs: seconds('provider-timeout', DEFAULT_LIMITS.providerTimeoutMs / 1000) * 1000,
        maxCallsPerInstance: count('max-provider-calls', DEFAULT_LIMITS.maxCallsPerInstance),
      },
      registration: parseRegistration(one('registration') ?? DEFAULTS.registration, given('registration')),
      representor: {
        sysfsRoot: one('sysfs-root') ?? DEFAULT_REPRESENTOR_CONFIG.sysfsRoot,
        devlinkBin: one('devlink-bin') ?? DEFAULT_REPRESENTOR_CONFIG.devlinkBin,
        ipBin: one('ip-bin') ?? DEFAULT_REPRESENTOR_CONFIG.ipBin,
        resyncIntervalMs: seconds('resync-interval', DEFAULT_REPRESENTOR_CONFIG.resyncIntervalMs / 1000) * 1000,
        dpdkDevargs: bool('representor-dpdk-devargs'),
      },
      remoteProviders: {
        dir: one('provider-dir'),
        probeIntervalMs: Math.max(seconds('provider-probe-interval', DEFAULT_REMOTE.probeIntervalMs / 1000) * 1000, 50),
        tls: parseProviderTls(one('provider-tls-ca'), one('provider-tls-cert'), one('provider-tls-key')),
      },
    },
  };
}

function parseListenFlags(specs: string[], given: string): GrpcAddress[] {
  const listen = (specs.length > 0 ? specs : [DEFAULT_LISTEN]).map((spec) => parseAddress('listen', spec, given));
  const seen = new Set<string>();
  for (const address of listen) {
    const key = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
    if (seen.has(key) && !(address.kind === 'tcp' && address.port === 0)) throw new UsageError(`${given} ${address.spec} is given twice`);
    seen.add(key);
  }
  return listen;
}

function parseTls(certFile: string | undefined, keyFile: string | undefined, clientCaFile: string | undefined): DaemonConfig['tls'] {
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert and --tls-key go together');
  return { certFile, keyFile, ...(clientCaFile === undefined ? {} : { clientCaFile }) };
}

function parseProviders(value: string | undefined, builtins: readonly string[], given: string): string[] {
  if (value === undefined) return [...builtins];
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 1 && list[0] === 'none') return [];
  if (list.length === 0) throw new UsageError(`${given} is empty; name built-in types or "none"`);
  for (const type of list) {
    if (!builtins.includes(type)) {
      throw new UsageError(`${given}: unknown provider "${type}"; built-in providers: ${builtins.join(', ')} (or "none")`);
    }
  }
  if (new Set(list).size !== list.length) throw new UsageError(`${given} lists a provider twice: ${value}`);
  return list;
}

function parseRegistration(value: string, given: string): DaemonConfig['registration'] {
  if (value === 'unix' || value === 'any' || value === 'off') return value;
  throw new UsageError(`${shown(given, value)} is not unix, any or off`);
}

function parseProviderTls(caFile: string | undefined, certFile: string | undefined, keyFile: string | undefined): RemoteProvidersConfig['tls'] {
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--provider-tls-cert and --provider-tls-key go together');
  if (caFile === undefined) {
    if (certFile !== undefined) throw new UsageError('--provider-tls-cert needs --provider-tls-ca: the providers\' certificates must be checked too');
    return undefined;
  }
  return { caFile, ...(certFile === undefined ? {} : { certFile, keyFile }) };
}

function parseMode(value: string, given: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new UsageError(`${shown(given, value)} is not an octal mode such as 0660`);
  const mode = parseInt(value, 8);
  if ((mode & 0o600) !== 0o600) throw new UsageError(`${shown(given, value)} would lock the daemon's own user out; include 0600`);
  return mode;
}

function parseNumber(given: string, value: string | undefined, fallback: number, fractional: boolean): number {
  if (value === undefined) return fallback;
  const pattern = fractional ? /^\d+(\.\d+)?$/ : /^\d+$/;
  if (!pattern.test(value)) throw new UsageError(`${shown(given, value)} is not ${fractional ? 'a number of seconds, e.g. 10 or 0.5' : 'a whole number'}`);
  return Number(value);
}
