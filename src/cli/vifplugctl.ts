#!/usr/bin/env node
/**
 * vifplugctl, the operator's client of vifplugd: one command per RPC, a
 * table for people or proto3 JSON for scripts (--json), and exit codes
 * scripts can rely on (EXIT), one per meaning. Each command declares its
 * flags (COMMANDS); every value is checked for its form before anything is
 * sent. It only calls the API: it knows no provider by name and reads
 * nothing of the daemon's insides.
 */

import { parseArgs } from 'node:util';

import { LIMITS } from '../api/limits';
import { parseEndpoint } from '../api/endpoint';
import { isProviderType } from '../api/validate';
import { Code, ServingStatus, VifplugClient, VifplugError } from '../client/client';
import { explainUnreachable, isUnreachable } from '../client/unreachable';
import { healthCheckResponse_ServingStatusToJSON } from '../gen/grpc/health/v1/health';
import { Status } from '../gen/google/rpc/status';
import * as api from '../gen/vifplug/v1/vifplug';
import { codeName as codeNameOf } from '../api/status';
import { isPciAddress } from '../registry';
import { VERSION } from '../common/version';
import { checkProvider, reportJson, resultLine, summaryLine } from '../conformance';
import { DEFAULT_SOCKET, connectVifplugd, timeoutSeconds, tlsCredentials, type ConnectionFlags } from './connection';
import { UsageError, shown } from './flags';
import { cell, table } from './table';

/** Exit codes scripts can rely on: one per meaning. */
export const EXIT = {
  ok: 0,
  /** The daemon answered with an error status. */
  failed: 1,
  /** A mistake on the command line: nothing was sent. */
  usage: 2,
  /** No answer from the daemon: it cannot be connected to, did not answer in time, or is shutting down. */
  unreachable: 3,
  /** Health is not SERVING, or the provider declined the port. */
  negative: 4,
  /** The daemon answered that a provider is unavailable or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED): retry later. */
  providerUnavailable: 5,
  /** provider-check: the provider broke a rule of the provider API. */
  ruleFailed: 6,
} as const;

/** A provider's own lport options are "vif-plug:<type>:<key>" (the provider contract's convention). */
const providerOption = (type: string, key: string): string => `vif-plug:${type}:${key}`;
const OWN_OPTION_PREFIX = /^vif-plug:[^:]+:/;

const USAGE = `Usage: vifplugctl [--socket PATH | --addr HOST:PORT] [--json] COMMAND [ARGS]

The operator's client of vifplugd.

Commands:
  health [SERVICE]                 gRPC health of the daemon ("" by default) or of a service
  providers                        registered provider classes (kind, health, endpoint) and built-in types
  register TYPE [--endpoint EP]    register a built-in provider class, or with --endpoint
                                   (unix:///abs/path.sock) an out-of-process provider
  unregister TYPE                  unregister a provider class
  open TYPE                        open (or get) the instance of a provider type
  close INSTANCE_ID                close an instance
  run [INSTANCE_ID]                run one or every instance; says whether something changed
  prepare --lport NAME... (--instance ID | --type TYPE) [--op create|remove]
          [--option KEY=VALUE]... [--iface-name N] [--iface-type T] [--iface-option KEY=VALUE]...
          [--dpdk] [--finish] [--destroy]
                                   PreparePort (PreparePorts for several --lport), optionally
                                   followed by FinishPort and DestroyCtx
  finish CTX_ID... [--destroy]     FinishPort (FinishPorts for several ids, or with --destroy)
  destroy CTX_ID...                DestroyCtx (DestroyCtxs for several ids)
  representors [--type TYPE] [--pf-mac MAC]
                                   what a hardware provider can plug, and the options selecting it
                                   (default: the one registered provider that lists hardware ports)
  lookup --pf-mac MAC [--vf-num N | --sf-num N] [--type TYPE]
                                   which representor a port with these options would get (nothing is kept)
  watch [TYPE]... [--count N]      follow what changes (Watch): one line per event (SEQ KIND TYPE
                                   INSTANCE), first a resync; until interrupted or N events
  identify VF_PCI_ADDRESS [--type TYPE]
                                   what a CMS needs to plug this host's VF on its SmartNIC/DPU: the PF
                                   MAC, the VF number, the card serial and the lport options (Identify)
  cards [--type TYPE]              the cards this host sees (PCI VPD) and the serial that identifies
                                   the chassis (ListCards)
  provider-check --endpoint EP --type TYPE [--option KEY=VALUE]... [--decline-option KEY=VALUE]...
          [--lport NAME] [--dpdk]
                                   drive a provider on its endpoint, without vifplugd, through the
                                   provider API's contract: one line per rule (PASS, FAIL, SKIP);
                                   --option: lport options of a port it plugs; --decline-option:
                                   of one it declines (default none); a TCP endpoint takes
                                   the TLS flags below

A command takes the flags shown with it, and the connection flags below; any of them
before or after the command.

Connection:
  --socket PATH         unix socket of the daemon, as a path or unix:///PATH [VIFPLUG_SOCKET]
                        (default ${DEFAULT_SOCKET})
  --addr HOST:PORT      TCP address instead [VIFPLUG_ADDR]
  --tls-ca FILE         CA bundle to verify the daemon's certificate (turns TLS on)
  --tls-cert FILE, --tls-key FILE
                        client certificate and key for mutual TLS
  --tls-server-name N   name to verify in the daemon's certificate (default: the host of --addr)
  --timeout SECONDS     deadline of each call (default 5)
  --json                machine-readable output (proto3 JSON); errors too, on stdout

Exit status:
  0  ok
  1  the daemon answered an error
  2  bad usage: an unknown command or flag, a flag of another command, a malformed value;
     nothing was sent
  3  the daemon is unreachable: no socket, permission denied, no answer in time, shutting down
  4  not SERVING (health), or the provider declined the port (prepare, lookup)
  5  a provider is unavailable: the daemon answered UNAVAILABLE or DEADLINE_EXCEEDED for it
     (down, not ready, too slow); retry later
  6  provider-check: the provider broke a rule (a FAIL line says which)

Examples:
  vifplugctl health
  vifplugctl providers
  vifplugctl register onebased --endpoint unix:///run/vifplug/providers/onebased.sock
  vifplugctl representors --pf-mac 10:70:fd:df:9c:3a
  vifplugctl lookup --pf-mac 10:70:fd:df:9c:3a --vf-num 4
  vifplugctl watch representor
  vifplugctl identify 0000:05:00.5
  vifplugctl prepare --type dummy --lport lsp1 --option vif-plug-type=dummy --finish --destroy
  vifplugctl provider-check --endpoint unix:///run/vifplug/providers/onebased.sock --type onebased \\
    --option vif-plug:onebased:vf-num=3
  vifplugctl --addr 10.0.0.5:50051 --tls-ca ca.pem --tls-cert me.pem --tls-key me.key --json providers`;

/** The connection and output flags: every command takes them, anywhere on the line. */
const GLOBAL_FLAGS = ['socket', 'addr', 'tls-ca', 'tls-cert', 'tls-key', 'tls-server-name', 'timeout', 'json', 'help', 'version'] as const;

/**
 * Every command and the flags it takes besides the global ones. A flag given
 * to a command that does not take it is refused, naming the commands that do.
 */
export const COMMANDS = {
  health: [],
  providers: [],
  register: ['endpoint'],
  unregister: [],
  open: [],
  close: [],
  run: [],
  prepare: ['lport', 'instance', 'type', 'op', 'option', 'iface-name', 'iface-type', 'iface-option', 'dpdk', 'finish', 'destroy'],
  finish: ['destroy'],
  destroy: [],
  representors: ['type', 'pf-mac'],
  lookup: ['pf-mac', 'vf-num', 'sf-num', 'type'],
  watch: ['count'],
  identify: ['type'],
  cards: ['type'],
  'provider-check': ['endpoint', 'type', 'option', 'decline-option', 'lport', 'dpdk'],
} as const satisfies Record<string, readonly CommandFlag[]>;

type Command = keyof typeof COMMANDS;
type CommandFlag = Exclude<keyof typeof OPTIONS, (typeof GLOBAL_FLAGS)[number]>;

/** Every flag's shape for the parser; which command takes which is COMMANDS. */
const OPTIONS = {
  socket: { type: 'string' },
  addr: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  endpoint: { type: 'string' },
  instance: { type: 'string' },
  type: { type: 'string' },
  lport: { type: 'string', multiple: true },
  op: { type: 'string' },
  option: { type: 'string', multiple: true },
  'decline-option': { type: 'string', multiple: true },
  'iface-name': { type: 'string' },
  'iface-type': { type: 'string' },
  'iface-option': { type: 'string', multiple: true },
  dpdk: { type: 'boolean' },
  finish: { type: 'boolean' },
  destroy: { type: 'boolean' },
  'pf-mac': { type: 'string' },
  'vf-num': { type: 'string' },
  'sf-num': { type: 'string' },
  count: { type: 'string' },
} as const;

/** The command line, checked: every value below is well-formed. */
interface Parsed {
  readonly command: Command | undefined;
  readonly args: string[];
  readonly help: boolean;
  readonly version: boolean;
  readonly json: boolean;
  readonly connection: ConnectionFlags;
  readonly endpoint?: string;
  readonly instance?: string;
  readonly type?: string;
  readonly lports: string[];
  readonly op: 'create' | 'remove';
  readonly options: Map<string, string>;
  readonly declineOptions: Map<string, string>;
  readonly ifaceName?: string;
  readonly ifaceType?: string;
  readonly ifaceOptions: Map<string, string>;
  readonly dpdk: boolean;
  readonly finish: boolean;
  readonly destroy: boolean;
  readonly pfMac?: string;
  readonly vfNum?: string;
  readonly sfNum?: string;
  readonly count?: number;
}

/**
 * Reads the command line: the command, its flags (refused when they are
 * another command's), and each value checked for its form, named as typed.
 * Throws UsageError.
 */
export function parseCommandLine(argv: readonly string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals, tokens } = parsed;
  const [name, ...args] = positionals;
  const command = name === undefined ? undefined : name in COMMANDS ? (name as Command) : undefined;
  if (name !== undefined && command === undefined && !values.help) throw new UsageError(`unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  // How each flag was typed (--pf-mac or --pf-mac=...), for messages.
  const typed = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    typed.set(token.name, token.rawName);
    if ((GLOBAL_FLAGS as readonly string[]).includes(token.name)) continue;
    const takers = commandsTaking(token.name as CommandFlag);
    if (command === undefined) {
      if (!values.help) throw new UsageError(`${token.rawName} needs a command: it is a flag of ${takers.join(', ')}`);
      continue;
    }
    if (!(COMMANDS[command] as readonly string[]).includes(token.name)) {
      throw new UsageError(`${command} takes no ${token.rawName}; it is a flag of ${takers.join(', ')}`);
    }
  }
  const as = (flag: keyof typeof OPTIONS): string => typed.get(flag) ?? `--${flag}`;
  const op = values.op ?? 'create';
  if (op !== 'create' && op !== 'remove') throw new UsageError(`${shown(as('op'), op)} is not create or remove`);
  if (values['vf-num'] !== undefined && values['sf-num'] !== undefined) throw new UsageError(`${as('vf-num')} and ${as('sf-num')} exclude each other: a port is a VF or an SF`);
  return {
    command,
    args,
    help: values.help === true,
    version: values.version === true,
    json: values.json === true,
    connection: {
      socket: values.socket,
      addr: values.addr,
      'tls-ca': values['tls-ca'],
      'tls-cert': values['tls-cert'],
      'tls-key': values['tls-key'],
      'tls-server-name': values['tls-server-name'],
      timeout: values.timeout,
    },
    endpoint: values.endpoint === undefined ? undefined : endpointValue(as('endpoint'), values.endpoint),
    instance: values.instance,
    type: values.type === undefined ? undefined : typeValue(as('type'), values.type),
    lports: (values.lport ?? []).map((lport) => nonEmpty(as('lport'), lport, 'a logical port name')),
    op,
    options: keyValues(values.option, as('option')),
    declineOptions: keyValues(values['decline-option'], as('decline-option')),
    ifaceName: values['iface-name'],
    ifaceType: values['iface-type'],
    ifaceOptions: keyValues(values['iface-option'], as('iface-option')),
    dpdk: values.dpdk === true,
    finish: values.finish === true,
    destroy: values.destroy === true,
    pfMac: values['pf-mac'] === undefined ? undefined : macValue(as('pf-mac'), values['pf-mac']),
    vfNum: values['vf-num'] === undefined ? undefined : wholeNumber(as('vf-num'), values['vf-num'], 0, 0xffff, 'a VF number'),
    sfNum: values['sf-num'] === undefined ? undefined : wholeNumber(as('sf-num'), values['sf-num'], 0, 0xffffffff, 'an SF number'),
    count: values.count === undefined ? undefined : Number(wholeNumber(as('count'), values.count, 1, 2 ** 31 - 1, 'a number of events')),
  };
}

function commandsTaking(flag: CommandFlag): string[] {
  return Object.entries(COMMANDS)
    .filter(([, flags]) => (flags as readonly string[]).includes(flag))
    .map(([command]) => command);
}

const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/** A MAC address in colon form, lower-cased as the daemon reports them. */
function macValue(given: string, value: string): string {
  if (!MAC.test(value)) throw new UsageError(`${shown(given, value)} is not a MAC address: six hex pairs separated by colons, e.g. 10:70:fd:df:9c:3a`);
  return value.toLowerCase();
}

/** A decimal number from min to max, without sign, spaces or leading zeros (the provider's own rule for vf-num and sf-num). */
function wholeNumber(given: string, value: string, min: number, max: number, what: string): string {
  if (!/^(0|[1-9][0-9]*)$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${shown(given, value)} is not ${what}: a whole number from ${min} to ${max}, without sign or leading zeros`);
  }
  return value;
}

/** A provider type, by the API's type-name rule. */
function typeValue(given: string | undefined, value: string): string {
  if (!isProviderType(value)) {
    throw new UsageError(`${given === undefined ? JSON.stringify(value) : shown(given, value)} is not a provider type: 1-${LIMITS.maxTypeLength} characters of A-Z a-z 0-9 _ . -, starting with a letter or digit`);
  }
  return value;
}

/** A provider endpoint, by the API's rule (the daemon checks it again). */
function endpointValue(given: string, value: string): string {
  try {
    parseEndpoint(value);
  } catch (err) {
    throw new UsageError(`${given}: ${(err as Error).message}`);
  }
  return value;
}

function nonEmpty(given: string, value: string, what: string): string {
  if (value === '') throw new UsageError(`${given} is empty; give ${what}`);
  return value;
}

function keyValues(pairs: string[] | undefined, given: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${shown(given, pair)} is not KEY=VALUE`);
    map.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return map;
}

interface Output {
  json: boolean;
  print(human: string, json: unknown): void;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (parsed.version) {
    process.stdout.write(`vifplugctl ${VERSION}\n`);
    return EXIT.ok;
  }
  const out: Output = {
    json: parsed.json,
    print(human, json) {
      process.stdout.write(`${this.json ? JSON.stringify(json, null, 2) : human}\n`);
    },
  };
  let client: VifplugClient | undefined;
  try {
    if (parsed.command === undefined) throw new UsageError('no command given');
    checkArgs(parsed.command, parsed.args);
    // The one command that talks to a provider, not to the daemon.
    if (parsed.command === 'provider-check') return await providerCheck(parsed, out);
    client = connect(parsed.connection, env);
    return await run(parsed.command, parsed.args, parsed, client, out);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    if (err instanceof VifplugError) return callFailed(err, client, out);
    throw err;
  } finally {
    client?.close();
  }
}

/** How many positional arguments each command takes, and their form. */
function checkArgs(command: Command, args: string[]): void {
  const one = (name: string, optional: boolean) => {
    if (args.length === 0 && !optional) throw new UsageError(`${command} needs ${name}`);
    if (args.length > 1) throw new UsageError(`${command} takes one ${name}, got ${args.length}: ${args.join(' ')}`);
  };
  const none = () => {
    if (args.length > 0) throw new UsageError(`${command} takes no argument, got "${args[0]}"`);
  };
  switch (command) {
    case 'health':
      return one('SERVICE', true);
    case 'register':
    case 'unregister':
    case 'open':
      one('TYPE', false);
      typeValue(undefined, args[0]!);
      return;
    case 'close':
      return one('INSTANCE_ID', false);
    case 'run':
      return one('INSTANCE_ID', true);
    case 'finish':
    case 'destroy':
      if (args.length === 0) throw new UsageError(`${command} needs CTX_ID...`);
      return;
    case 'watch':
      for (const type of args) typeValue(undefined, type);
      return;
    case 'identify':
      one('VF_PCI_ADDRESS', false);
      if (!isPciAddress(args[0]!)) throw new UsageError(`"${args[0]}" is not a PCI address: DOMAIN:BUS:DEVICE.FUNCTION in hex, e.g. 0000:03:00.2`);
      return;
    default:
      return none();
  }
}

function connect(connection: ConnectionFlags, env: NodeJS.ProcessEnv): VifplugClient {
  const names = {
    ...(connection.socket === undefined && env.VIFPLUG_SOCKET !== undefined && connection.addr === undefined ? { socket: 'VIFPLUG_SOCKET' } : {}),
    ...(connection.addr === undefined && connection.socket === undefined && env.VIFPLUG_ADDR ? { addr: 'VIFPLUG_ADDR' } : {}),
  };
  return connectVifplugd(connection, { socket: env.VIFPLUG_SOCKET, addr: env.VIFPLUG_ADDR }, { names });
}

async function run(command: Command, args: string[], p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  switch (command) {
    case 'health': {
      const service = args[0] ?? '';
      const status = await client.health(service);
      const name = healthCheckResponse_ServingStatusToJSON(status);
      out.print(name, { service, status: name });
      return status === ServingStatus.SERVING ? EXIT.ok : EXIT.negative;
    }
    case 'providers': {
      const res = await client.listProviders();
      out.print(
        `${table(
          ['TYPE', 'KIND', 'HEALTH', 'OPEN', 'INSTANCE', 'ENDPOINT', 'MAINTAINED OPTIONS'],
          res.providers.map((provider) => [
            provider.type,
            kindName(provider.kind),
            healthName(provider),
            cell(provider.open),
            cell(provider.instanceId),
            cell(provider.endpoint),
            cell(provider.maintainedIfaceOptions.join(',')),
          ]),
        )}\nbuilt-in types: ${res.builtinTypes.join(', ')}`,
        api.ListProvidersResponse.toJSON(res),
      );
      return EXIT.ok;
    }
    case 'register': {
      const type = args[0]!;
      const res = await client.call('register', { type, endpoint: p.endpoint ?? '' });
      const where = res.provider?.endpoint ? ` at ${res.provider.endpoint}` : '';
      out.print(`registered ${type} (${kindName(res.provider?.kind ?? api.ProviderKind.PROVIDER_KIND_UNSPECIFIED)}${where})`, api.RegisterResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'unregister': {
      const type = args[0]!;
      await client.unregister(type);
      out.print(`unregistered ${type}`, {});
      return EXIT.ok;
    }
    case 'open': {
      const res = await client.open(args[0]!);
      out.print(res.instanceId, api.OpenResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'close': {
      const id = args[0]!;
      await client.closeInstance(id);
      out.print(`closed ${id}`, {});
      return EXIT.ok;
    }
    case 'run': {
      const res = await client.run(args[0] ?? '');
      out.print(res.changed ? 'changed' : 'unchanged', api.RunResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'prepare':
      return prepare(p, client, out);
    case 'finish': {
      if (args.length === 1 && !p.destroy) {
        await client.finishPort(args[0]!);
        out.print(`finished ${args[0]}`, {});
        return EXIT.ok;
      }
      return perCtx(args, (await client.finishPorts(args, p.destroy)).results, p.destroy ? 'finished and destroyed' : 'finished', out);
    }
    case 'destroy': {
      if (args.length === 1) {
        await client.destroyCtx(args[0]!);
        out.print(`destroyed ${args[0]}`, {});
        return EXIT.ok;
      }
      return perCtx(args, (await client.destroyCtxs(args)).results, 'destroyed', out);
    }
    case 'representors':
      return representors(p, client, out);
    case 'lookup':
      return lookup(p, client, out);
    case 'watch':
      return watch(args, p, client, out);
    case 'identify': {
      const res = await client.identify(args[0]!, p.type ?? '');
      const problem = res.cardSerialProblem;
      const lines: [string, string][] = [
        ['VF', res.vfPciAddress],
        ['PF', `${res.pfPciAddress} ${res.pfNetdev}`],
        ['PF MAC', res.pfMacAddress],
        ['VF NUMBER', String(res.vfNum)],
        ['CARD SERIAL', problem === undefined ? res.cardSerialNumber : `- (${problem.reason}: ${problem.message})`],
        ['LPORT OPTIONS', [...res.lportOptions].map(([k, v]) => `${k}=${v}`).join(' ')],
        ...res.warnings.map((w): [string, string] => ['WARNING', w]),
      ];
      out.print(lines.map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n'), api.IdentifyResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'provider-check':
      throw new Error('provider-check talks to a provider, not to vifplugd');
    case 'cards': {
      const res = await client.listCards(p.type ?? '');
      const rows = res.cards.map((c) => [c.serialNumber, cell(c.partNumber), c.pfPciAddresses.join(','), cell(c.managesExternalHost), cell(c.selected), cell(c.productName)]);
      const problems = res.problems.map((problem) => `${problem.reason}: ${problem.message}`);
      out.print(
        [table(['SERIAL', 'PART', 'PFS', 'MANAGES HOST', 'CHASSIS', 'NAME'], rows), `chassis card serial: ${res.chassisCardSerialNumber || '-'} (${res.selectionMessage})`, ...problems].join('\n'),
        api.ListCardsResponse.toJSON(res),
      );
      return EXIT.ok;
    }
  }
}

/**
 * provider-check: the conformance kit (src/conformance/) run against the
 * provider at --endpoint, a line per rule as each is checked.
 */
async function providerCheck(p: Parsed, out: Output): Promise<number> {
  if (p.endpoint === undefined) throw new UsageError('provider-check needs --endpoint unix:///abs/path.sock: where the provider serves');
  if (p.type === undefined) throw new UsageError('provider-check needs --type TYPE: the type the provider should serve');
  if (p.lports.length > 1) throw new UsageError(`provider-check takes one --lport, got ${p.lports.length}`);
  const c = p.connection;
  if (c.socket !== undefined || c.addr !== undefined) throw new UsageError(`provider-check talks to the provider at --endpoint, not to vifplugd: it takes no ${c.socket !== undefined ? '--socket' : '--addr'}`);
  if (c['tls-server-name'] !== undefined) throw new UsageError('provider-check takes no --tls-server-name: the provider\'s certificate must name the host of --endpoint');
  const tcp = parseEndpoint(p.endpoint).kind === 'tcp';
  const tls = c['tls-ca'] !== undefined || c['tls-cert'] !== undefined || c['tls-key'] !== undefined;
  if (tcp && c['tls-ca'] === undefined) throw new UsageError(`--endpoint ${p.endpoint} is TCP: give --tls-ca (and --tls-cert, --tls-key), as vifplugd reaches TCP providers only over TLS`);
  if (!tcp && tls) throw new UsageError('TLS applies to a TCP --endpoint only; a unix socket is protected by its mode and group');
  const report = await checkProvider(
    {
      endpoint: p.endpoint,
      type: p.type,
      plugOptions: p.options,
      declineOptions: p.declineOptions,
      lportName: p.lports[0] ?? 'provider-check',
      useDpdk: p.dpdk,
      timeoutMs: timeoutSeconds(c.timeout) * 1000,
      tls: tcp ? tlsCredentials(c) : undefined,
    },
    (result) => {
      if (!out.json) process.stdout.write(`${resultLine(result)}\n`);
    },
  );
  out.print(summaryLine(report), reportJson(report));
  return report.ok ? EXIT.ok : EXIT.ruleFailed;
}

async function prepare(p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  const { lports, op } = p;
  if (lports.length === 0) throw new UsageError('prepare needs --lport NAME');
  if ((p.instance === undefined) === (p.type === undefined)) throw new UsageError('prepare needs --instance ID or --type TYPE, one of them');
  const port = (lportName: string): api.PortRequest => ({
    opType: op === 'create' ? api.OpType.OP_TYPE_CREATE : api.OpType.OP_TYPE_REMOVE,
    useDpdk: p.dpdk,
    lportName,
    lportOptions: p.options,
    ifaceName: p.ifaceName ?? '',
    ifaceType: p.ifaceType ?? '',
    ifaceOptions: p.ifaceOptions,
  });
  const instanceId = p.instance ?? (await client.open(p.type!)).instanceId;
  if (lports.length > 1) return prepareMany(instanceId, lports.map(port), p, client, out);
  const res = await client.preparePort({ instanceId, ...port(lports[0]!) });
  if (res.plug && p.finish) await client.finishPort(res.ctxId);
  if (res.plug && p.destroy) await client.destroyCtx(res.ctxId);
  const human = res.plug
    ? [
        `plug:     yes`,
        `ctx:      ${res.ctxId}${p.destroy ? ' (destroyed)' : p.finish ? ' (finished)' : ''}`,
        ...(op === 'create'
          ? [`name:     ${res.name}`, `type:     ${cell(res.type)}`, `options:  ${cell([...res.ifaceOptions].map(([k, v]) => `${k}=${v}`).join(' '))}`]
          : []),
      ].join('\n')
    : `plug:     no\nreason:   ${res.declineReason}\nmessage:  ${res.declineMessage}`;
  out.print(human, api.PreparePortResponse.toJSON(res));
  return res.plug ? EXIT.ok : EXIT.negative;
}

/** Several lports at once: PreparePorts, then FinishPorts for the prepared ones if asked. */
async function prepareMany(instanceId: string, ports: api.PortRequest[], p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  const { results } = await client.preparePorts(instanceId, ports);
  const ctxIds = results.flatMap((r) => (r.result?.$case === 'prepared' && r.result.value.plug ? [r.result.value.ctxId] : []));
  if (ctxIds.length > 0 && (p.finish || p.destroy)) {
    if (p.finish) await client.finishPorts(ctxIds, p.destroy);
    else await client.destroyCtxs(ctxIds);
  }
  const rows = results.map((r, i) => {
    const lport = ports[i]!.lportName;
    if (r.result?.$case === 'error') return [lport, 'error', '-', '-', `${codeNameOf(r.result.value.code)}: ${r.result.value.message}`];
    const p = r.result!.value;
    return [lport, p.plug ? 'yes' : 'no', cell(p.ctxId), cell(p.name), p.plug ? cell(p.type) : `${p.declineReason}: ${p.declineMessage}`];
  });
  out.print(table(['LPORT', 'PLUG', 'CTX', 'NAME', 'TYPE / WHY NOT'], rows), api.PreparePortsResponse.toJSON({ results }));
  return results.every((r) => r.result?.$case === 'prepared' && r.result.value.plug) ? EXIT.ok : results.some((r) => r.result?.$case === 'error') ? EXIT.failed : EXIT.negative;
}

/** One line per ctx id of a batch call; exit 1 if any failed. */
function perCtx(ids: string[], results: Status[], done: string, out: Output): number {
  const lines = ids.map((id, i) => {
    const s = results[i]!;
    return s.code === 0 ? `${done} ${id}` : `${id}: ${codeNameOf(s.code)}: ${s.message}`;
  });
  out.print(lines.join('\n'), { results: results.map((s) => Status.toJSON(s)) });
  return results.every((s) => s.code === 0) ? EXIT.ok : EXIT.failed;
}

async function representors(p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  const res = await client.listRepresentors(p.type ?? '');
  const mac = p.pfMac;
  const shown = mac === undefined ? res.representors : res.representors.filter((r) => r.pfMac === mac);
  out.print(
    table(
      ['NETDEV', 'FLAVOUR', 'DEVICE', 'CTRL', 'PF', 'VF', 'SF', 'EXT', 'PF MAC', 'SOURCE', 'SELECT WITH'],
      shown.map((r) => [
        cell(r.netdev),
        r.flavour,
        r.device,
        cell(r.controller),
        cell(r.pfnum),
        cell(r.vfnum),
        cell(r.sfnum),
        cell(r.external),
        cell(r.pfMac),
        r.source,
        cell([...r.lportOptions].map(([k, v]) => `${k.replace(OWN_OPTION_PREFIX, '')}=${v}`).join(' ')),
      ]),
    ),
    api.ListRepresentorsResponse.toJSON({ representors: shown }),
  );
  return EXIT.ok;
}

async function lookup(p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  const mac = p.pfMac;
  if (mac === undefined) throw new UsageError('lookup needs --pf-mac MAC');
  const type = p.type ?? (await theLister(client));
  const options = new Map([[providerOption(type, 'pf-mac'), mac]]);
  if (p.vfNum !== undefined) options.set(providerOption(type, 'vf-num'), p.vfNum);
  if (p.sfNum !== undefined) options.set(providerOption(type, 'sf-num'), p.sfNum);
  const { instanceId } = await client.open(type);
  const res = await client.preparePort({ instanceId, opType: api.OpType.OP_TYPE_CREATE, lportName: 'vifplugctl-lookup', lportOptions: options });
  if (res.plug) await client.destroyCtx(res.ctxId);
  const json = { ...(api.PreparePortResponse.toJSON(res) as object), ctxId: undefined };
  out.print(res.plug ? res.name : `declined: ${res.declineReason}: ${res.declineMessage}`, json);
  return res.plug ? EXIT.ok : EXIT.negative;
}

/**
 * The one registered provider that lists hardware ports, as the daemon
 * picks it for ListRepresentors without a type: those that answer
 * UNIMPLEMENTED do not list any.
 */
async function theLister(client: VifplugClient): Promise<string> {
  const listers: string[] = [];
  for (const { type } of (await client.listProviders()).providers) {
    const lists = await client.listRepresentors(type).then(
      () => true,
      (err: unknown) => !(err instanceof VifplugError && err.code === Code.UNIMPLEMENTED),
    );
    if (lists) listers.push(type);
  }
  if (listers.length === 1) return listers[0]!;
  throw new UsageError(
    listers.length === 0 ? 'no registered provider lists hardware ports; register one, or give --type' : `several providers list hardware ports (${listers.join(', ')}); give --type`,
  );
}

/** Prints each change as it comes; a line per event, so that scripts can read it as a stream. */
async function watch(types: string[], p: Parsed, client: VifplugClient, out: Output): Promise<number> {
  const count = p.count ?? Infinity;
  const stream = client.watch(types);
  let seen = 0;
  for await (const event of stream) {
    const kind = api.changeKindToJSON(event.kind).replace('CHANGE_KIND_', '').toLowerCase().replace(/_/g, '-');
    const extra = event.kind === api.ChangeKind.CHANGE_KIND_RESYNC ? `${event.reason} boot=${event.bootId}` : cell(event.instanceId);
    const line = out.json ? JSON.stringify(api.WatchResponse.toJSON(event)) : `${event.sequence} ${kind} ${cell(event.type)} ${extra}`;
    process.stdout.write(`${line}\n`);
    if (++seen >= count) {
      stream.cancel();
      break;
    }
  }
  return EXIT.ok;
}

/** "serving", or "down"/"degraded" with the reason, e.g. "down (PROVIDER_UNREACHABLE)". */
function healthName(p: api.ProviderInfo): string {
  const name = api.providerHealthToJSON(p.health).replace('PROVIDER_HEALTH_', '').toLowerCase();
  const troubled = p.health === api.ProviderHealth.PROVIDER_HEALTH_DOWN || p.health === api.ProviderHealth.PROVIDER_HEALTH_DEGRADED;
  return troubled ? `${name} (${p.healthReason || 'unknown'})` : name;
}

function kindName(kind: api.ProviderKind): string {
  return api.providerKindToJSON(kind).replace('PROVIDER_KIND_', '').toLowerCase();
}

function usageError(message: string): number {
  process.stderr.write(`vifplugctl: ${message}\nTry 'vifplugctl --help'.\n`);
  return EXIT.usage;
}

function callFailed(err: VifplugError, client: VifplugClient | undefined, out: Output): number {
  if (isUnreachable(err) && client !== undefined) {
    const why = explainUnreachable(client.target, err, { socket: '--socket PATH or VIFPLUG_SOCKET', addr: '--addr HOST:PORT or VIFPLUG_ADDR' });
    if (out.json) {
      out.print('', { error: { code: err.codeName, reason: 'DAEMON_UNREACHABLE', message: `cannot reach vifplugd: ${why.message}`, metadata: { target: client.target, problem: why.problem, hint: why.hint } } });
    } else {
      process.stderr.write(`vifplugctl: cannot reach vifplugd: ${why.message}\nvifplugctl: ${why.hint}\n`);
    }
    return EXIT.unreachable;
  }
  if (out.json) {
    out.print('', { error: { code: err.codeName, reason: err.reason, message: err.detail, metadata: Object.fromEntries(err.metadata) } });
  } else {
    const reason = err.reason === '' ? '' : ` (${err.reason})`;
    process.stderr.write(`vifplugctl: ${err.codeName}${reason}: ${err.detail}\n`);
  }
  // The daemon answered: UNAVAILABLE or DEADLINE_EXCEEDED then speak of a provider (down, not ready, too slow).
  return err.code === Code.UNAVAILABLE || err.code === Code.DEADLINE_EXCEEDED ? EXIT.providerUnavailable : EXIT.failed;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`vifplugctl: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
