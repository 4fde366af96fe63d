#!/usr/bin/env node
/**
 * vifplug-ovn, the program: reads flags and environment, runs the agent
 * (ovn/agent.ts) with its status socket and, when asked, its metrics, until
 * SIGTERM or SIGINT; `vifplug-ovn status` asks a running agent what it
 * plugged and why not. Exit status 2 for bad flags, 1 when it cannot start.
 */

import type { Server as HttpServer } from 'node:http';

import { createLogger, guardProcess } from '../common/log';
import type { AgentMetrics } from '../ovn/agent-metrics';
import type { TcpAddress } from '../api/endpoint';
import { Agent, type AgentStatus } from '../ovn/agent';
import { CardSerialPublisher } from '../ovn/card-serial';
import { StatusServer, fetchStatus } from '../ovn/status-server';
import { VifplugdLink, parseTypes } from '../ovn/vifplugd-link';
import { OvsdbConfigError, defaultRundir, parseRemotes, type TlsFiles } from '../ovsdb';
import { VERSION } from '../common/version';
import { connectVifplugd, socketTarget, tcpTarget, type ConnectionFlags, type ConnectionNames } from './connection';
import { LOG_LEVELS, UsageError, flagHelp, parseLogFormat, parseLogLevel, parseMetricsListen, readFlags, type Flag, type LogFormat } from './flags';
import { routeGrpcLog } from './grpc-log';
import { logStartupFailure } from './startup-failure';
import { repairSection } from './repair-status';
import { cell, table } from './table';

const DEFAULT_STATUS_SOCKET = '/run/vifplug-ovn/vifplug-ovn.sock';

/**
 * Every flag, with its environment variable. Where vifplugd is: spelled as
 * vifplugctl spells it. Where OVSDB is: spelled as ovn-controller and
 * ovs-vsctl spell it.
 */
export const FLAGS = {
  socket: { env: 'VIFPLUG_OVN_SOCKET', arg: 'PATH', help: "vifplugd's unix socket, as a path or unix:///PATH (default /run/vifplug/vifplug.sock)" },
  addr: { env: 'VIFPLUG_OVN_ADDR', arg: 'HOST:PORT', help: "vifplugd's TCP address instead of --socket" },
  'tls-ca': { env: 'VIFPLUG_OVN_TLS_CA', arg: 'FILE', help: "CA bundle to verify vifplugd's certificate (turns TLS on)" },
  'tls-cert': { env: 'VIFPLUG_OVN_TLS_CERT', arg: 'FILE', help: 'client certificate for mutual TLS with vifplugd' },
  'tls-key': { env: 'VIFPLUG_OVN_TLS_KEY', arg: 'FILE', help: 'key of --tls-cert' },
  'tls-server-name': { env: 'VIFPLUG_OVN_TLS_SERVER_NAME', arg: 'NAME', help: "name to verify in vifplugd's certificate (default: the host of --addr)" },
  timeout: { env: 'VIFPLUG_OVN_TIMEOUT', arg: 'SECONDS', help: 'deadline of each call to vifplugd (default 5)' },
  'ovs-db': { env: 'VIFPLUG_OVN_OVS_DB', arg: 'ADDR', help: 'the local Open_vSwitch database: unix:PATH, tcp:IP:PORT or ssl:IP:PORT (default unix:$OVS_RUNDIR/db.sock, OVS_RUNDIR defaulting to /var/run/openvswitch)' },
  'ovn-sb-db': { env: 'VIFPLUG_OVN_SB_DB', deprecatedEnv: 'VIFPLUG_OVN_OVN_SB_DB', arg: 'ADDR[,ADDR...]', help: "the OVN Southbound DB, or a clustered DB's members (default: external_ids:ovn-remote of the local Open_vSwitch record)" },
  'private-key': { env: 'VIFPLUG_OVN_PRIVATE_KEY', arg: 'FILE', help: 'SSL private key for ssl: OVSDB remotes (as OVS --private-key)' },
  certificate: { env: 'VIFPLUG_OVN_CERTIFICATE', arg: 'FILE', help: 'SSL certificate for ssl: OVSDB remotes (as OVS --certificate)' },
  'ca-cert': { env: 'VIFPLUG_OVN_CA_CERT', arg: 'FILE', help: 'CA certificate that signs the OVSDB servers\' certificates (as OVS --ca-cert)' },
  types: { env: 'VIFPLUG_OVN_TYPES', arg: 'LIST', help: 'the vif-plug-types this agent plugs, comma-separated: TYPE (the vifplugd provider of that name) or TYPE=PROVIDER (never a type ovn-controller serves too; default: none; this or --repair is required)' },
  repair: { env: 'VIFPLUG_OVN_REPAIR', arg: 'LIST', help: "the vif-plug-types ovn-controller plugs itself whose ports the agent repairs (removes a port left after the plug request was withdrawn, one ovn-controller refuses to change, one left after a restart, so that ovn-controller plugs afresh), comma-separated: TYPE or TYPE=PROVIDER, the vifplugd provider asked about the lport's options (never one of --types; default: none)" },
  'plug-additional': { env: 'VIFPLUG_OVN_PLUG_ADDITIONAL', boolean: true, arg: '', help: "also plug lports for which this chassis is an additional requested chassis (requested-chassis=MAIN,THIS: a live migration's destination), so that the port is there before the VM arrives; OVN plugs on the main chassis only" },
  'metrics-listen': { env: 'VIFPLUG_OVN_METRICS_LISTEN', arg: 'HOST:PORT', help: 'serve Prometheus metrics (pending lports by reason, reconcile passes) at http://HOST:PORT/metrics (default: off)' },
  'status-socket': { env: 'VIFPLUG_OVN_STATUS_SOCKET', arg: 'PATH', help: `where the agent answers \`vifplug-ovn status\` (default ${DEFAULT_STATUS_SOCKET})` },
  'log-level': { env: 'VIFPLUG_OVN_LOG_LEVEL', arg: 'LEVEL', help: `${LOG_LEVELS.join(', ')} (default info)` },
  'publish-card-serial': { env: 'VIFPLUG_OVN_PUBLISH_CARD_SERIAL', boolean: true, arg: '', help: "on a DPU: keep this card's serial (vifplugd's ListCards, from the PCI VPD) as card-serial-number in external_ids:ovn-cms-options, where Neutron looks for the chassis of a remote-managed port" },
  'log-format': { env: 'VIFPLUG_OVN_LOG_FORMAT', arg: 'FORMAT', help: 'text (one readable line per event) or json (one JSON object per line, for collectors) (default: text on a terminal, json otherwise)' },
  json: { env: 'VIFPLUG_OVN_JSON', boolean: true, arg: '', help: 'status: print the status as JSON' },
} as const satisfies Record<string, Flag>;

type FlagName = keyof typeof FLAGS;

function usage(): string {
  return [
    'Usage: vifplug-ovn --types LIST [FLAGS]      run the agent',
    '       vifplug-ovn --repair LIST [FLAGS]     run the agent in repair mode beside ovn-controller\'s own plugging',
    '       vifplug-ovn status [--json]            which lports the running agent plugged, which wait, and why',
    '',
    'Plugs the OVN logical ports requested to this chassis (Port_Binding requested_chassis and',
    'options:vif-plug-type) through vifplugd, beside a stock ovn-controller.',
    '',
    'Flags (each also read from the environment variable shown):',
    ...flagHelp(FLAGS),
    '  --help, -h                    this text',
    '  --version                     the version',
    '',
    'Signals: SIGTERM/SIGINT stop the agent; plugged ports stay in place.',
    'Exit status: 0 after a clean stop, 1 on a runtime failure (status: the agent cannot be reached), 2 on bad flags.',
    '',
    'Examples:',
    '  vifplug-ovn --types vifplug-representor=representor',
    '  vifplug-ovn --repair representor                 # Neutron on Debian/Ubuntu OVN (built with ovn-vif)',
    '  vifplug-ovn --types representor --ovn-sb-db ssl:10.0.0.1:6642,ssl:10.0.0.2:6642 \\',
    '      --private-key /etc/ovn/key.pem --certificate /etc/ovn/cert.pem --ca-cert /etc/ovn/cacert.pem',
    '  vifplug-ovn --types representor --publish-card-serial',
    '  vifplug-ovn status',
  ].join('\n');
}

export interface AgentConfig {
  readonly connection: ConnectionFlags;
  readonly ovsDb: string;
  readonly sbDb: string | undefined;
  readonly tls: TlsFiles | undefined;
  /** lport vif-plug-type -> vifplugd provider. */
  readonly types: ReadonlyMap<string, string>;
  /** --repair: lport vif-plug-type (plugged by ovn-controller) -> the vifplugd provider asked about it. */
  readonly repair: ReadonlyMap<string, string>;
  readonly plugAdditional: boolean;
  readonly statusSocket: string;
  readonly metricsListen: TcpAddress | undefined;
  readonly logLevel: string;
  /** Keep ovn-cms-options card-serial-number right (ovn/card-serial.ts). */
  readonly publishCardSerial: boolean;
  readonly logFormat: LogFormat;
  /** How each connection flag was given (flag or variable), for messages. */
  readonly connectionNames: ConnectionNames;
}

type Command = { kind: 'run'; config: AgentConfig } | { kind: 'status'; statusSocket: string; json: boolean } | { kind: 'help' } | { kind: 'version' };

export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const flags = readFlags<FlagName>(argv, env, FLAGS, { positionals: true });
  if (flags.help) return { kind: 'help' };
  if (flags.version) return { kind: 'version' };
  const { one, given } = flags;
  const statusSocket = one('status-socket') ?? DEFAULT_STATUS_SOCKET;
  const [command, ...rest] = flags.positionals;
  if (rest.length > 0 || (command !== undefined && command !== 'status')) {
    throw new UsageError(`unexpected argument "${command === 'status' ? rest[0] : command}"; the only command is "status"`);
  }
  if (command === 'status') return { kind: 'status', statusSocket, json: flags.bool('json') };

  const typesText = one('types');
  const repairText = one('repair');
  if (typesText === undefined && repairText === undefined) {
    throw new UsageError('--types or --repair is required: name the vif-plug-types this agent plugs (e.g. --types vifplug-representor=representor), or those ovn-controller plugs whose ports it repairs (e.g. --repair representor)');
  }
  const types = typesFlag(given('types'), typesText);
  const repair = typesFlag(given('repair'), repairText);
  const both = [...repair.keys()].filter((t) => types.has(t));
  if (both.length > 0) {
    throw new UsageError(`${given('types')} and ${given('repair')} both name ${both.join(', ')}: a vif-plug-type is plugged either by this agent (--types) or by ovn-controller, whose ports the agent then repairs (--repair), never both`);
  }

  const ovsDb = one('ovs-db') ?? `unix:${defaultRundir()}/db.sock`;
  const sbDb = one('ovn-sb-db');
  const remotes = [...checkRemotes(given('ovs-db'), ovsDb), ...(sbDb === undefined ? [] : checkRemotes(given('ovn-sb-db'), sbDb))];
  const [privateKey, certificate, caCert] = [one('private-key'), one('certificate'), one('ca-cert')];
  const sslFiles = [privateKey, certificate, caCert].filter((f) => f !== undefined).length;
  if (sslFiles !== 0 && sslFiles !== 3) throw new UsageError('--private-key, --certificate and --ca-cert go together');
  const tls = sslFiles === 3 ? { privateKey: privateKey!, certificate: certificate!, caCert: caCert! } : undefined;
  if (tls === undefined && remotes.some((r) => r.startsWith('ssl:'))) {
    throw new UsageError('an ssl: remote needs --private-key, --certificate and --ca-cert');
  }
  const connection: ConnectionFlags = {
    socket: one('socket'),
    addr: one('addr'),
    'tls-ca': one('tls-ca'),
    'tls-cert': one('tls-cert'),
    'tls-key': one('tls-key'),
    'tls-server-name': one('tls-server-name'),
    timeout: one('timeout'),
  };
  const connectionNames: ConnectionNames = Object.fromEntries((Object.keys(connection) as (keyof ConnectionFlags)[]).map((flag) => [flag, given(flag)]));
  if (connection.socket !== undefined && connection.addr !== undefined) throw new UsageError(`give ${given('socket')} or ${given('addr')}, not both`);
  if (connection.socket !== undefined) socketTarget(connection.socket, given('socket'));
  if (connection.addr !== undefined) tcpTarget(connection.addr, given('addr'));
  const metricsListen = parseMetricsListen(one('metrics-listen'), given('metrics-listen'));
  return {
    kind: 'run',
    config: {
      connection,
      connectionNames,
      ovsDb,
      sbDb,
      tls,
      types,
      repair,
      plugAdditional: flags.bool('plug-additional'),
      statusSocket,
      metricsListen,
      logLevel: parseLogLevel(one('log-level') ?? 'info', given('log-level')),
      logFormat: parseLogFormat(one('log-format'), given('log-format')),
      publishCardSerial: flags.bool('publish-card-serial'),
    },
  };
}

/** --types or --repair: TYPE[=PROVIDER],...; empty when not given. */
function typesFlag(given: string, text: string | undefined): Map<string, string> {
  if (text === undefined) return new Map();
  try {
    return parseTypes(text);
  } catch (err) {
    throw new UsageError(`${given}: ${(err as Error).message}`);
  }
}

function checkRemotes(given: string, text: string): string[] {
  try {
    return parseRemotes(text).map((r) => r.name);
  } catch (err) {
    if (err instanceof OvsdbConfigError) throw new UsageError(`${given}: ${err.message}`);
    throw err;
  }
}

async function main(): Promise<number> {
  let command: Command;
  try {
    command = parseAgentArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vifplug-ovn: ${err.message}\nTry 'vifplug-ovn --help'.\n`);
    return 2;
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(`${usage()}\n`);
      return 0;
    case 'version':
      process.stdout.write(`vifplug-ovn ${VERSION}\n`);
      return 0;
    case 'status':
      return printStatus(command.statusSocket, command.json);
    case 'run':
      return runAgent(command.config);
  }
}

async function printStatus(path: string, json: boolean): Promise<number> {
  let status: AgentStatus;
  try {
    status = await fetchStatus(path);
  } catch (err) {
    process.stderr.write(`vifplug-ovn: ${(err as Error).message}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const seconds = (ms: number | null) => (ms === null ? '-' : `${Math.round(ms / 1000)}s`);
  const chassis = status.chassis === '' ? 'chassis not configured' : `chassis ${status.chassis}, bridge ${status.bridge}`;
  const head = [
    `${chassis}${status.types.length > 0 ? `, types ${status.types.join(',')}` : ''}${status.repair.types.length > 0 ? `, repair ${status.repair.types.join(',')}` : ''}; OVS ${status.connected.ovs ? 'connected' : 'DISCONNECTED'}, SB ${status.connected.sb ? 'connected' : 'DISCONNECTED'}${status.complete ? '' : ' (view incomplete: nothing is unplugged)'}`,
    ...status.waiting.map((w) => `waiting: ${w.reason}: ${w.message}`),
  ].join('\n');
  const rows = status.lports.map((l) => [l.lport, l.type, l.state, cell(l.iface), cell(l.reason), l.reason === '' ? '-' : seconds(l.forMs), l.reason === '' ? '-' : String(l.attempts), seconds(l.retryInMs), cell(l.message)]);
  process.stdout.write(`${head}\n${table(['LPORT', 'TYPE', 'STATE', 'IFACE', 'REASON', 'FOR', 'TRIES', 'RETRY', 'MESSAGE'], rows)}\n`);
  // An agent older than this section answers without it.
  const ignored = status.ignored ?? [];
  if (ignored.length > 0) {
    process.stdout.write(
      `\nRequested to this chassis, vif-plug-type not served by this agent (ovn-controller plugs these if it has a provider of the type; otherwise check the type):\n` +
        `${table(['LPORT', 'VIF-PLUG-TYPE'], ignored.map((l) => [l.lport, l.type]))}\n`,
    );
  }
  for (const line of repairSection(status.repair)) process.stdout.write(`${line}\n`);
  return 0;
}

async function runAgent(config: AgentConfig): Promise<number> {
  const logger = createLogger(config.logLevel, undefined, 'vifplug-ovn', config.logFormat);
  guardProcess(logger, 'vifplug-ovn');
  routeGrpcLog(logger);
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let client;
  try {
    client = connectVifplugd(config.connection, {}, { maxAttempts: 1, names: config.connectionNames });
  } catch (err) {
    process.stderr.write(`vifplug-ovn: ${(err as Error).message}\nTry 'vifplug-ovn --help'.\n`);
    return 2;
  }
  const link = new VifplugdLink({ client, types: new Map([...config.types, ...config.repair]), logger });
  let metrics: AgentMetrics | undefined;
  const agent = new Agent({
    link,
    types: [...config.types.keys()],
    repair: [...config.repair.keys()],
    plugAdditional: config.plugAdditional,
    ovsDb: config.ovsDb,
    sbDb: config.sbDb,
    tls: config.tls,
    logger,
    onPass: (report) => metrics?.passed(report),
    onRepair: (removal) => metrics?.repaired(removal),
  });
  const status = new StatusServer(config.statusSocket, () => agent.status());
  let metricsServer: HttpServer | undefined;
  try {
    await status.start();
    if (config.metricsListen !== undefined) {
      // prom-client is loaded only when metrics are asked for, as vifplugd does: it costs start-up time.
      metrics = new (require('../ovn/agent-metrics') as typeof import('../ovn/agent-metrics')).AgentMetrics(agent);
      const { serveMetrics } = require('../grpc/metrics-endpoint') as typeof import('../grpc/metrics-endpoint');
      const served = await serveMetrics(config.metricsListen, metrics, logger);
      metricsServer = served.server;
      logger.info({ metrics: `http://${config.metricsListen.host}:${served.port}/metrics` }, 'serving metrics');
    }
  } catch (err) {
    logStartupFailure(logger, err, 'vifplug-ovn cannot start');
    await status.stop();
    client.close();
    return 1;
  }
  let stopping = false;
  const cardSerial = config.publishCardSerial ? new CardSerialPublisher({ client, ovsDb: config.ovsDb, tls: config.tls, logger }) : undefined;
  cardSerial?.start();
  const started = agent.start().catch((err: unknown) => {
    if (stopping) return undefined;
    logStartupFailure(logger, err, 'vifplug-ovn cannot start');
    return 'failed' as const;
  });
  const outcome = await Promise.race([stopSignal, started.then((r) => (r === 'failed' ? r : stopSignal))]);
  if (outcome === 'failed') {
    await cardSerial?.stop().catch(() => undefined);
    await agent.stop().catch(() => undefined);
    metricsServer?.close();
    await status.stop();
    client.close();
    return 1;
  }
  stopping = true;
  logger.info({ signal: outcome }, 'stopping; plugged ports stay in place');
  await cardSerial?.stop();
  await agent.stop();
  metricsServer?.close();
  await status.stop();
  client.close();
  logger.info('vifplug-ovn stopped');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`vifplug-ovn: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
