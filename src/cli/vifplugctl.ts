#!/usr/bin/env node
/**
 * vifplugctl, the operator's client of vifplugd: one command per RPC, a
 * table for people or proto3 JSON for scripts (--json), and exit codes
 * scripts can rely on (EXIT). It only calls the API: it knows no provider by
 * name and reads nothing of the daemon's insides.
 */

import { parseArgs } from 'node:util';

import { Code, ServingStatus, VifplugClient, VifplugError } from '../client/client';
import { healthCheckResponse_ServingStatusToJSON } from '../gen/grpc/health/v1/health';
import { Status } from '../gen/google/rpc/status';
import * as api from '../gen/vifplug/v1/vifplug';
import { codeName as codeNameOf } from '../api/status';
import { VERSION } from '../common/version';
import { DEFAULT_SOCKET, connectVifplugd } from './connection';
import { UsageError } from './flags';
import { cell, table } from './table';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The daemon answered with an error status. */
  failed: 1,
  usage: 2,
  /** The daemon could not be reached in time (UNAVAILABLE, DEADLINE_EXCEEDED). */
  unreachable: 3,
  /** Health is not SERVING, or the provider declined the port. */
  negative: 4,
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

Connection:
  --socket PATH         unix socket of the daemon [VIFPLUG_SOCKET] (default ${DEFAULT_SOCKET})
  --addr HOST:PORT      TCP address instead [VIFPLUG_ADDR]
  --tls-ca FILE         CA bundle to verify the daemon's certificate (turns TLS on)
  --tls-cert FILE, --tls-key FILE
                        client certificate and key for mutual TLS
  --tls-server-name N   name to verify in the daemon's certificate (default: the host of --addr)
  --timeout SECONDS     deadline of each call (default 5)
  --json                machine-readable output (proto3 JSON); errors too, on stdout

Exit status: 0 ok, 1 the daemon answered an error, 2 bad usage, 3 the daemon is unreachable,
4 not SERVING (health) or the provider declined the port (prepare, lookup).

Examples:
  vifplugctl health
  vifplugctl providers
  vifplugctl register onebased --endpoint unix:///run/vifplug/providers/onebased.sock
  vifplugctl representors --pf-mac 10:70:fd:df:9c:3a
  vifplugctl lookup --pf-mac 10:70:fd:df:9c:3a --vf-num 4
  vifplugctl watch representor
  vifplugctl identify 0000:05:00.5
  vifplugctl prepare --type dummy --lport lsp1 --option vif-plug-type=dummy --finish --destroy
  vifplugctl --addr 10.0.0.5:50051 --tls-ca ca.pem --tls-cert me.pem --tls-key me.key --json providers`;


const OPTIONS = {
  socket: { type: 'string' },
  addr: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  endpoint: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  instance: { type: 'string' },
  type: { type: 'string' },
  lport: { type: 'string', multiple: true },
  op: { type: 'string' },
  option: { type: 'string', multiple: true },
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

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

interface Output {
  json: boolean;
  print(human: string, json: unknown): void;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (values.version) {
    process.stdout.write(`vifplugctl ${VERSION}\n`);
    return EXIT.ok;
  }
  const out: Output = {
    json: values.json === true,
    print(human, json) {
      process.stdout.write(`${this.json ? JSON.stringify(json, null, 2) : human}\n`);
    },
  };
  let client: VifplugClient | undefined;
  try {
    const [command, ...args] = positionals;
    if (command === undefined) throw new UsageError('no command given');
    client = connect(values, env);
    return await run(command, args, values, client, out);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    if (err instanceof VifplugError) return callFailed(err, out);
    throw err;
  } finally {
    client?.close();
  }
}

function connect(values: Values, env: NodeJS.ProcessEnv): VifplugClient {
  return connectVifplugd(values, { socket: env.VIFPLUG_SOCKET, addr: env.VIFPLUG_ADDR });
}

async function run(command: string, args: string[], values: Values, client: VifplugClient, out: Output): Promise<number> {
  const arg = (name: string, optional = false): string => {
    const value = args[0];
    if (value === undefined && !optional) throw new UsageError(`${command} needs ${name}`);
    if (args.length > 1) throw new UsageError(`${command} takes one ${name}, got ${args.length}`);
    return value ?? '';
  };
  switch (command) {
    case 'health': {
      const service = arg('SERVICE', true);
      const status = await client.health(service);
      const name = healthCheckResponse_ServingStatusToJSON(status);
      out.print(name, { service, status: name });
      return status === ServingStatus.SERVING ? EXIT.ok : EXIT.negative;
    }
    case 'providers': {
      arg('nothing', true);
      const res = await client.listProviders();
      out.print(
        `${table(
          ['TYPE', 'KIND', 'HEALTH', 'OPEN', 'INSTANCE', 'ENDPOINT', 'MAINTAINED OPTIONS'],
          res.providers.map((p) => [
            p.type,
            kindName(p.kind),
            healthName(p),
            cell(p.open),
            cell(p.instanceId),
            cell(p.endpoint),
            cell(p.maintainedIfaceOptions.join(',')),
          ]),
        )}\nbuilt-in types: ${res.builtinTypes.join(', ')}`,
        api.ListProvidersResponse.toJSON(res),
      );
      return EXIT.ok;
    }
    case 'register': {
      const type = arg('TYPE');
      const res = await client.call('register', { type, endpoint: values.endpoint ?? '' });
      const where = res.provider?.endpoint ? ` at ${res.provider.endpoint}` : '';
      out.print(`registered ${type} (${kindName(res.provider?.kind ?? api.ProviderKind.PROVIDER_KIND_UNSPECIFIED)}${where})`, api.RegisterResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'unregister': {
      const type = arg('TYPE');
      await client.unregister(type);
      out.print(`unregistered ${type}`, {});
      return EXIT.ok;
    }
    case 'open': {
      const res = await client.open(arg('TYPE'));
      out.print(res.instanceId, api.OpenResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'close': {
      const id = arg('INSTANCE_ID');
      await client.closeInstance(id);
      out.print(`closed ${id}`, {});
      return EXIT.ok;
    }
    case 'run': {
      const res = await client.run(arg('INSTANCE_ID', true));
      out.print(res.changed ? 'changed' : 'unchanged', api.RunResponse.toJSON(res));
      return EXIT.ok;
    }
    case 'prepare':
      arg('nothing', true);
      return prepare(values, client, out);
    case 'finish': {
      if (args.length === 0) throw new UsageError('finish needs CTX_ID...');
      if (args.length === 1 && !values.destroy) {
        await client.finishPort(args[0]!);
        out.print(`finished ${args[0]}`, {});
        return EXIT.ok;
      }
      return perCtx(args, (await client.finishPorts(args, values.destroy === true)).results, values.destroy ? 'finished and destroyed' : 'finished', out);
    }
    case 'destroy': {
      if (args.length === 0) throw new UsageError('destroy needs CTX_ID...');
      if (args.length === 1) {
        await client.destroyCtx(args[0]!);
        out.print(`destroyed ${args[0]}`, {});
        return EXIT.ok;
      }
      return perCtx(args, (await client.destroyCtxs(args)).results, 'destroyed', out);
    }
    case 'representors':
      arg('nothing', true);
      return representors(values, client, out);
    case 'lookup':
      arg('nothing', true);
      return lookup(values, client, out);
    case 'watch':
      return watch(args, values, client, out);
    case 'identify': {
      const res = await client.identify(arg('VF_PCI_ADDRESS'), values.type ?? '');
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
    case 'cards': {
      arg('nothing', true);
      const res = await client.listCards(values.type ?? '');
      const rows = res.cards.map((c) => [c.serialNumber, cell(c.partNumber), c.pfPciAddresses.join(','), cell(c.managesExternalHost), cell(c.selected), cell(c.productName)]);
      const problems = res.problems.map((p) => `${p.reason}: ${p.message}`);
      out.print([table(['SERIAL', 'PART', 'PFS', 'MANAGES HOST', 'CHASSIS', 'NAME'], rows), `chassis card serial: ${res.chassisCardSerialNumber || '-'} (${res.selectionMessage})`, ...problems].join('\n'), api.ListCardsResponse.toJSON(res));
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function prepare(values: Values, client: VifplugClient, out: Output): Promise<number> {
  const lports = values.lport ?? [];
  if (lports.length === 0) throw new UsageError('prepare needs --lport NAME');
  if ((values.instance === undefined) === (values.type === undefined)) throw new UsageError('prepare needs --instance ID or --type TYPE');
  const op = values.op ?? 'create';
  if (op !== 'create' && op !== 'remove') throw new UsageError(`--op "${op}" is not create or remove`);
  const port = (lportName: string): api.PortRequest => ({
    opType: op === 'create' ? api.OpType.OP_TYPE_CREATE : api.OpType.OP_TYPE_REMOVE,
    useDpdk: values.dpdk === true,
    lportName,
    lportOptions: keyValues(values.option, '--option'),
    ifaceName: values['iface-name'] ?? '',
    ifaceType: values['iface-type'] ?? '',
    ifaceOptions: keyValues(values['iface-option'], '--iface-option'),
  });
  const instanceId = values.instance ?? (await client.open(values.type!)).instanceId;
  if (lports.length > 1) return prepareMany(instanceId, lports.map(port), values, client, out);
  const res = await client.preparePort({ instanceId, ...port(lports[0]!) });
  if (res.plug && values.finish) await client.finishPort(res.ctxId);
  if (res.plug && values.destroy) await client.destroyCtx(res.ctxId);
  const human = res.plug
    ? [
        `plug:     yes`,
        `ctx:      ${res.ctxId}${values.destroy ? ' (destroyed)' : values.finish ? ' (finished)' : ''}`,
        ...(op === 'create'
          ? [`name:     ${res.name}`, `type:     ${cell(res.type)}`, `options:  ${cell([...res.ifaceOptions].map(([k, v]) => `${k}=${v}`).join(' '))}`]
          : []),
      ].join('\n')
    : `plug:     no\nreason:   ${res.declineReason}\nmessage:  ${res.declineMessage}`;
  out.print(human, api.PreparePortResponse.toJSON(res));
  return res.plug ? EXIT.ok : EXIT.negative;
}

/** Several lports at once: PreparePorts, then FinishPorts for the prepared ones if asked. */
async function prepareMany(instanceId: string, ports: api.PortRequest[], values: Values, client: VifplugClient, out: Output): Promise<number> {
  const { results } = await client.preparePorts(instanceId, ports);
  const ctxIds = results.flatMap((r) => (r.result?.$case === 'prepared' && r.result.value.plug ? [r.result.value.ctxId] : []));
  if (ctxIds.length > 0 && (values.finish || values.destroy)) {
    if (values.finish) await client.finishPorts(ctxIds, values.destroy === true);
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

async function representors(values: Values, client: VifplugClient, out: Output): Promise<number> {
  const res = await client.listRepresentors(values.type ?? '');
  const mac = values['pf-mac']?.toLowerCase();
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

async function lookup(values: Values, client: VifplugClient, out: Output): Promise<number> {
  const mac = values['pf-mac'];
  if (mac === undefined) throw new UsageError('lookup needs --pf-mac MAC');
  const type = values.type ?? (await theLister(client));
  const options = new Map([[providerOption(type, 'pf-mac'), mac]]);
  if (values['vf-num'] !== undefined) options.set(providerOption(type, 'vf-num'), values['vf-num']);
  if (values['sf-num'] !== undefined) options.set(providerOption(type, 'sf-num'), values['sf-num']);
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
async function watch(types: string[], values: Values, client: VifplugClient, out: Output): Promise<number> {
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(Number.isInteger(count) && count > 0) && count !== Infinity) throw new UsageError(`--count "${values.count}" is not a positive whole number`);
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

function keyValues(pairs: string[] | undefined, flag: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} "${pair}" is not KEY=VALUE`);
    map.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return map;
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

function callFailed(err: VifplugError, out: Output): number {
  const unreachable = err.code === Code.UNAVAILABLE || err.code === Code.DEADLINE_EXCEEDED;
  if (out.json) {
    out.print('', { error: { code: err.codeName, reason: err.reason, message: err.detail, metadata: Object.fromEntries(err.metadata) } });
  } else {
    const reason = err.reason === '' ? '' : ` (${err.reason})`;
    process.stderr.write(`vifplugctl: ${err.codeName}${reason}: ${err.detail}\n`);
  }
  return unreachable ? EXIT.unreachable : EXIT.failed;
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
