/**
 * grpcurl, for the tests that run the docs' sessions: grpcurl itself is
 * packaged neither for Debian nor for npm, so this reproduces what the real
 * tool prints, version by version (test/fixtures/grpcurl/real-output.md holds
 * real sessions of grpcurl 1.8.7 and 1.9.3 against vifplugd, and
 * test/grpcurl-emulator.test.ts holds this file to them byte for byte).
 * Descriptors come from the server's reflection only, as grpcurl's grpcreflect
 * client gets them (ReflectionClient).
 *
 * - Verbs: `list [SERVICE]`, `describe [SYMBOL]`, and unary or
 *   server-streaming calls `SERVICE/METHOD` with `-d JSON`. Flags: -plaintext,
 *   -d, -format-error, -emit-defaults, -unix, -authority.
 * - Dialing a unix socket, as each version does (GRPCURL_VERSIONS):
 *   1.8.x dial `-unix PATH` and send PATH as the HTTP/2 `:authority`, which
 *   Node's HTTP/2 server refuses with RST_STREAM PROTOCOL_ERROR (the stand-in
 *   really sends it, so the refusal is the daemon's), hence
 *   `-unix -authority localhost PATH`; 1.9.0 and 1.9.1 send `localhost` for
 *   `-unix`; 1.9.2 and 1.9.3 ignore `-unix` (dialing PATH as HOST:PORT fails:
 *   "missing port in address") and take the address `unix:///PATH` instead,
 *   which the older ones reject. The words of that last rejection are Go's
 *   net package's for such an address, not captured from a session.
 * - Output: grpcurl formats a response with jhump/protoreflect's dynamic
 *   messages (fields in field-number order, map keys sorted) and a
 *   google.protobuf.Any through golang/protobuf's jsonpb (its keys sorted,
 *   "@type" among them). 1.9.x then re-indents the compact text with Go's
 *   json.Indent: an empty message is `{}`. 1.8.x indent as jsonpb does: an
 *   empty message is `{`, a line of two spaces, `}`, and an Any stays one
 *   compact line. A response ends with a newline; a failure goes to stderr as
 *   "ERROR: / Code: NotFound / Message: ... / Details:", or with
 *   `-format-error` as the google.rpc.Status in JSON, with no final newline.
 * - Exit status: 0; 64 + the gRPC status code for a failed call; 1 when
 *   grpcurl itself fails (dialing, reflection); 2 for bad usage.
 * - A server stream is followed until it ends, or until it has been quiet for
 *   QUIET_MS (where a person watching would press ^C).
 */

import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { ScalarType, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescField, type DescMessage, type DescMethod, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';

import { ReflectionClient, descriptorSet } from './reflection-client';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** The versions reproduced here; the docs' main session is written for the newest. */
export const GRPCURL_VERSIONS = ['1.8.7', '1.9.0', '1.9.1', '1.9.2', '1.9.3'] as const;
export type GrpcurlVersion = (typeof GRPCURL_VERSIONS)[number];
export const DEFAULT_GRPCURL_VERSION: GrpcurlVersion = '1.9.3';

/** grpcurl's offset for exit codes that carry a gRPC status (cmd/grpcurl: statusCodeOffset). */
export const STATUS_CODE_OFFSET = 64;

/** How long a server stream may stay quiet before it is cut, as by ^C. */
export const QUIET_MS = 1_000;

/** Where gRPC servers put the google.rpc.Status of a failure. */
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Go's names of the gRPC codes (codes.Code.String()), as grpcurl prints them. */
const GO_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss',
  'Unauthenticated',
];

/** HTTP/2 error codes by number, as Go's http2 package names them. */
const HTTP2_ERRORS = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

interface Parsed {
  plaintext: boolean;
  data: string | undefined;
  formatError: boolean;
  unix: boolean;
  authority: string | undefined;
  emitDefaults: boolean;
  positionals: string[];
}

interface Dialled {
  readonly target: string;
  /** The :authority sent, when it is not the one grpc-js derives from the target. */
  readonly authority: string | undefined;
}

/** What a version does differently. */
interface Behaviour {
  readonly version: GrpcurlVersion;
  /** 1.9.2 and later dial with grpc-go's own dialer: `unix:///path` works, `-unix` does nothing. */
  readonly dialsUris: boolean;
  /** 1.9.0 and 1.9.1 send `localhost` as the authority of `-unix`; 1.8.x send the path. */
  readonly unixAuthorityLocalhost: boolean;
  /** 1.9.x re-indent the compact JSON with json.Indent; 1.8.x indent as jsonpb does. */
  readonly reindents: boolean;
}

function behaviour(version: GrpcurlVersion): Behaviour {
  const minor = Number(version.split('.')[1]);
  const patch = Number(version.split('.')[2]);
  return { version, dialsUris: minor > 9 || (minor === 9 && patch >= 2), unixAuthorityLocalhost: minor >= 9, reindents: minor >= 9 };
}

/** Runs one grpcurl command line (already split into words) as grpcurl `version` does. */
export async function grpcurl(args: readonly string[], options: { version?: GrpcurlVersion } = {}): Promise<CommandResult> {
  const version = options.version ?? DEFAULT_GRPCURL_VERSION;
  if (!GRPCURL_VERSIONS.includes(version)) throw new Error(`grpcurl ${version} is not reproduced here; known: ${GRPCURL_VERSIONS.join(', ')}`);
  const how = behaviour(version);
  let parsed: Parsed;
  try {
    parsed = parseFlags(args);
  } catch (err) {
    return usage((err as Error).message);
  }
  const [address, ...rest] = parsed.positionals;
  if (address === undefined) return usage('Too few arguments.');
  const [verb, symbol, ...extra] = rest;
  if (verb === undefined) return usage('Too few arguments.');
  if (extra.length > 0) return usage('Too many arguments.');
  if (verb !== 'list' && verb !== 'describe' && symbol !== undefined) return usage('Too many arguments.');
  if (!parsed.plaintext) return usage('this stand-in speaks plaintext only: add -plaintext (vifplugd serves plaintext on unix sockets)');

  const dialled = dial(address, parsed, how);
  if ('code' in dialled) return dialled;
  const reflection = new ReflectionClient(dialled.target, 'v1', channelOptions(dialled));
  try {
    if (verb === 'list') return await list(reflection, symbol);
    if (verb === 'describe') return await describe(reflection, symbol);
    return await invoke(reflection, dialled, verb, parsed, how);
  } catch (err) {
    return { stdout: '', stderr: `${goError(err)}\n`, code: 1 };
  } finally {
    reflection.close();
  }
}

/** Go's flag package: -name or --name, -name=value or -name value; flags end at the first other word. */
function parseFlags(args: readonly string[]): Parsed {
  const out: Parsed = { plaintext: false, data: undefined, formatError: false, unix: false, authority: undefined, emitDefaults: false, positionals: [] };
  const bool = (inline: string | undefined) => inline === undefined || inline === 'true';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || out.positionals.length > 0) {
      out.positionals.push(arg);
      continue;
    }
    const name = arg.replace(/^--?/, '').split('=')[0]!;
    const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`flag needs an argument: -${name}`);
      return v;
    };
    switch (name) {
      case 'plaintext':
        out.plaintext = bool(inline);
        break;
      case 'format-error':
        out.formatError = bool(inline);
        break;
      case 'unix':
        out.unix = bool(inline);
        break;
      case 'emit-defaults':
        out.emitDefaults = bool(inline);
        break;
      case 'authority':
        out.authority = value();
        break;
      case 'd':
        out.data = value();
        break;
      default:
        throw new Error(`flag provided but not defined: -${name}`);
    }
  }
  return out;
}

function usage(message: string): CommandResult {
  return { stdout: '', stderr: `${message}\nTry 'grpcurl -help' for more details.\n`, code: 2 };
}

/** The channel the version would open for `address`, or its failure to dial. */
function dial(address: string, parsed: Parsed, how: Behaviour): Dialled | CommandResult {
  const failed = (why: string): CommandResult => ({ stdout: '', stderr: `Failed to dial target host ${JSON.stringify(address)}: ${why}\n`, code: 1 });
  if (how.dialsUris) {
    // grpc-go's resolvers: unix:///abs, unix:rel; anything else is HOST:PORT (-unix changes nothing).
    if (address.startsWith('unix:')) return { target: address, authority: parsed.authority ?? 'localhost' };
    if (!/:[0-9A-Za-z]+$/.test(address)) return failed(`connection error: desc = "transport: error while dialing: dial tcp: address ${address}: missing port in address"`);
    return { target: address, authority: parsed.authority };
  }
  if (parsed.unix) {
    if (address.startsWith('unix:')) return failed(`dial unix ${address}: connect: no such file or directory`);
    const authority = parsed.authority ?? (how.unixAuthorityLocalhost ? 'localhost' : address);
    return { target: `unix://${address.startsWith('/') ? address : `${process.cwd()}/${address}`}`, authority };
  }
  if (address.startsWith('unix:')) return failed(`dial tcp: address ${address}: too many colons in address`);
  return { target: address, authority: parsed.authority };
}

function channelOptions(dialled: Dialled): Record<string, string> {
  return dialled.authority === undefined ? {} : { 'grpc.default_authority': dialled.authority };
}

/** A grpc-js failure as grpc-go's status error prints it. */
function goError(err: unknown): string {
  const e = err as Partial<ServiceError> & Error;
  if (typeof e.code !== 'number') return e.message;
  return `rpc error: code = ${GO_CODE_NAMES[e.code] ?? e.code} desc = ${goDetails(e)}`;
}

/** grpc-js words some transport failures its own way; grpc-go's words for them. */
function goDetails(e: Partial<ServiceError> & Error): string {
  const rst = /^Received RST_STREAM with code (\d+)/.exec(e.details ?? '');
  if (rst) return `stream terminated by RST_STREAM with error code: ${HTTP2_ERRORS[Number(rst[1])] ?? rst[1]}`;
  return e.details ?? e.message;
}

async function list(reflection: ReflectionClient, service: string | undefined): Promise<CommandResult> {
  let services: string[];
  try {
    services = (await reflection.listServices()).sort();
  } catch (err) {
    return { stdout: '', stderr: `Failed to list services: ${goError(err)}\n`, code: 1 };
  }
  if (service === undefined) return { stdout: services.map((s) => `${s}\n`).join(''), stderr: '', code: 0 };
  const registry = await registryFor(reflection, services.includes(service) ? [service] : []);
  const svc = registry.getService(service);
  if (svc === undefined) return { stdout: '', stderr: `Failed to list methods for service ${JSON.stringify(service)}: Service not found: ${service}\n`, code: 1 };
  return { stdout: svc.methods.map((m) => `${service}.${m.name}\n`).join(''), stderr: '', code: 0 };
}

async function describe(reflection: ReflectionClient, symbol: string | undefined): Promise<CommandResult> {
  const symbols = symbol === undefined ? (await reflection.listServices()).sort() : [symbol.replace(/^\./, '')];
  let out = '';
  for (const s of symbols) {
    // grpcurl asks reflection for the file containing the symbol itself, a method's name included.
    let registry: FileRegistry;
    try {
      registry = await registryFor(reflection, [s], true);
    } catch (err) {
      return { stdout: out, stderr: `Failed to resolve symbol ${JSON.stringify(s)}: ${goError(err)}\n`, code: 1 };
    }
    const found = findSymbol(registry, s);
    if (found === undefined) return { stdout: out, stderr: `Failed to resolve symbol ${JSON.stringify(s)}: Symbol not found: ${s}\n`, code: 1 };
    out += `${s} is ${found.kind}:\n${found.text}\n`;
  }
  return { stdout: out, stderr: '', code: 0 };
}

/** What grpcurl's describe names and prints (proto source form; without comments here). */
function findSymbol(registry: FileRegistry, symbol: string): { kind: string; text: string } | undefined {
  const service = registry.getService(symbol);
  if (service !== undefined) {
    return { kind: 'a service', text: `service ${service.name} {\n${service.methods.map((m) => `  ${rpcLine(m)}\n`).join('')}}` };
  }
  const message = registry.getMessage(symbol);
  if (message !== undefined) {
    return { kind: 'a message', text: `message ${message.name} {\n${message.fields.map((f) => `  ${f.name} = ${f.number};\n`).join('')}}` };
  }
  const dot = symbol.lastIndexOf('.');
  const method = registry.getService(symbol.slice(0, dot))?.methods.find((m) => m.name === symbol.slice(dot + 1));
  if (method !== undefined) return { kind: 'a method', text: rpcLine(method) };
  const enumeration = registry.getEnum(symbol);
  if (enumeration !== undefined) return { kind: 'an enum', text: `enum ${enumeration.name} {\n${enumeration.values.map((v) => `  ${v.name} = ${v.number};\n`).join('')}}` };
  return undefined;
}

function rpcLine(m: DescMethod): string {
  const stream = (yes: boolean) => (yes ? 'stream ' : '');
  return `rpc ${m.name} ( ${stream(m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming')}.${m.input.typeName} ) returns ( ${stream(m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming')}.${m.output.typeName} );`;
}

/** The descriptors for `symbols` and google.rpc's (grpcurl resolves Any types the same way). */
async function registryFor(reflection: ReflectionClient, symbols: string[], lenient = false): Promise<FileRegistry> {
  const google = ['google.rpc.Status', 'google.rpc.ErrorInfo', 'google.rpc.BadRequest', 'google.rpc.RetryInfo'];
  const known: string[] = [];
  for (const symbol of symbols) {
    try {
      await reflection.resolve([symbol]);
      known.push(symbol);
    } catch (err) {
      // A symbol reflection does not know: describe says so.
      if (!lenient) throw err;
    }
  }
  return createFileRegistry(descriptorSet(await reflection.resolve([...known, ...google])));
}

async function invoke(reflection: ReflectionClient, dialled: Dialled, symbol: string, parsed: Parsed, how: Behaviour): Promise<CommandResult> {
  const slash = symbol.includes('/') ? symbol.lastIndexOf('/') : symbol.lastIndexOf('.');
  const serviceName = symbol.slice(0, slash);
  const methodName = symbol.slice(slash + 1);
  const fail = (why: string): CommandResult => ({ stdout: '', stderr: `Error invoking method ${JSON.stringify(symbol)}: ${why}\n`, code: 1 });
  let registry: FileRegistry;
  try {
    registry = await registryFor(reflection, [serviceName]);
  } catch (err) {
    const e = err as Partial<ServiceError> & Error;
    if (typeof e.code === 'number') return fail(`rpc error: code = ${GO_CODE_NAMES[e.code] ?? e.code} desc = failed to query for service descriptor ${JSON.stringify(serviceName)}: ${goDetails(e)}`);
    return fail(`target server does not expose service ${JSON.stringify(serviceName)}`);
  }
  const method = registry.getService(serviceName)?.methods.find((m) => m.name === methodName);
  if (method === undefined) return fail(`service ${JSON.stringify(serviceName)} does not include a method named ${JSON.stringify(methodName)}`);
  if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') {
    return { stdout: '', stderr: `this stand-in calls unary and server-streaming methods, not ${method.methodKind} ${symbol}\n`, code: 1 };
  }
  let request: Uint8Array;
  try {
    const json = parsed.data === undefined || parsed.data.trim() === '' ? {} : (JSON.parse(parsed.data) as JsonValue);
    request = toBinary(method.input, fromJson(method.input, json, { registry }));
  } catch (err) {
    return fail(`error getting request data: ${(err as Error).message}`);
  }
  const client = new Client(dialled.target, credentials.createInsecure(), channelOptions(dialled));
  const format = (bytes: Buffer) => `${render(ordered(method.output, toJson(method.output, fromBinary(method.output, bytes), { registry, alwaysEmitImplicit: parsed.emitDefaults }), registry), how)}\n`;
  const path = `/${serviceName}/${methodName}`;
  try {
    if (method.methodKind === 'server_streaming') {
      const { messages, error } = await follow(client, path, Buffer.from(request));
      const stdout = messages.map(format).join('');
      return error === undefined ? { stdout, stderr: '', code: 0 } : { ...failed(error, registry, parsed.formatError, how), stdout };
    }
    const answer = await new Promise<{ response?: Buffer; error?: ServiceError }>((resolve) => {
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(request), new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
        resolve(error ? { error } : { response: response! }),
      );
    });
    if (answer.error !== undefined) return failed(answer.error, registry, parsed.formatError, how);
    return { stdout: format(answer.response!), stderr: '', code: 0 };
  } finally {
    client.close();
  }
}

/** The messages of a server stream until it ends, fails, or goes quiet (then it is cancelled, as by ^C). */
function follow(client: Client, path: string, request: Buffer): Promise<{ messages: Buffer[]; error?: ServiceError }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    const call = client.makeServerStreamRequest(path, (b: Buffer) => b, (b: Buffer) => b, request, new Metadata());
    let quiet = setTimeout(() => call.cancel(), QUIET_MS);
    call.on('data', (message: Buffer) => {
      messages.push(message);
      clearTimeout(quiet);
      quiet = setTimeout(() => call.cancel(), QUIET_MS);
    });
    call.on('error', (error: ServiceError) => {
      clearTimeout(quiet);
      // Cancelled here: what ^C does, not a failure of the call.
      resolve(error.code === 1 ? { messages } : { messages, error });
    });
    call.on('end', () => {
      clearTimeout(quiet);
      resolve({ messages });
    });
  });
}

/** grpcurl's report of a failed call (PrintStatus, or printFormattedStatus with -format-error), from the google.rpc.Status in the trailers. */
function failed(error: ServiceError, registry: FileRegistry, formatError: boolean, how: Behaviour): CommandResult {
  const statusType = registry.getMessage('google.rpc.Status')!;
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  const status = Buffer.isBuffer(raw) ? fromBinary(statusType, raw) : undefined;
  const json = (status === undefined ? { code: error.code, message: error.details } : toJson(statusType, status, { registry })) as { [key: string]: JsonValue };
  const code = STATUS_CODE_OFFSET + error.code;
  // The Status itself is a generated Go type: jsonpb writes it in declaration order.
  if (formatError) return { stdout: '', stderr: render(ordered(statusType, json, registry, 'declaration'), how), code };
  let text = `ERROR:\n  Code: ${GO_CODE_NAMES[error.code] ?? error.code}\n  Message: ${error.details}\n`;
  const details = (json['details'] ?? []) as JsonValue[];
  if (details.length > 0) {
    text += '  Details:\n';
    details.forEach((detail, i) => {
      const prefix = `  ${i + 1})`;
      const lines = render(anyValue(detail, registry), how).split('\n');
      text += `${prefix}\t${lines[0]}\n`;
      for (const line of lines.slice(1)) text += `${' '.repeat(prefix.length)}\t${line}\n`;
    });
  }
  return { stdout: '', stderr: text, code };
}

// --- JSON as grpcurl writes it ------------------------------------------------------------

/** JSON with its key order decided: objects are entry lists; an Any remembers that it is one. */
type Ordered = { readonly raw: string } | { readonly items: readonly Ordered[] } | { readonly entries: readonly (readonly [string, Ordered])[]; readonly any?: boolean };

const raw_ = (value: JsonValue): Ordered => ({ raw: goQuote(value) });

/** A JSON scalar as Go's encoding/json writes it: <, > and & escaped in strings. */
function goQuote(value: JsonValue): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The JSON of a message, ordered as grpcurl orders it: a response is a
 * dynamic message (fields by number); the Status of -format-error is a
 * generated one (fields as declared); map keys sorted either way.
 */
function ordered(desc: DescMessage, json: JsonValue, registry: FileRegistry, order: 'number' | 'declaration' = 'number'): Ordered {
  if (desc.typeName === 'google.protobuf.Any') return anyValue(json, registry);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return raw_(json);
  const fields = order === 'number' ? [...desc.fields].sort((a, b) => a.number - b.number) : desc.fields;
  const entries: [string, Ordered][] = [];
  for (const field of fields) {
    const value = json[field.jsonName];
    if (value === undefined) continue;
    entries.push([field.jsonName, fieldValue(field, value, registry)]);
  }
  return { entries };
}

function fieldValue(field: DescField, value: JsonValue, registry: FileRegistry): Ordered {
  switch (field.fieldKind) {
    case 'message':
      return ordered(field.message, value, registry);
    case 'list':
      return { items: (value as JsonValue[]).map((v) => (field.listKind === 'message' ? ordered(field.message, v, registry) : raw_(v))) };
    case 'map': {
      const numeric = field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL;
      const keys = Object.keys(value as object).sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
      return { entries: keys.map((k) => [k, field.mapKind === 'message' ? ordered(field.message, (value as Record<string, JsonValue>)[k]!, registry) : raw_((value as Record<string, JsonValue>)[k]!)] as const) };
    }
    default:
      return raw_(value);
  }
}

/** An Any: jsonpb marshals the resolved message, then re-marshals it as a Go map with "@type": every key sorted. */
function anyValue(json: JsonValue, registry: FileRegistry): Ordered {
  const object = json as { [key: string]: JsonValue };
  const typeUrl = object['@type'] as string;
  const inner = registry.getMessage(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const { ['@type']: _, ...rest } = object;
  const body = inner === undefined ? { entries: Object.entries(rest).map(([k, v]) => [k, raw_(v)] as const) } : (ordered(inner, rest, registry) as { entries: (readonly [string, Ordered])[] });
  const entries = [['@type', raw_(typeUrl)] as const, ...body.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { entries, any: true };
}

function compact(value: Ordered): string {
  if ('raw' in value) return value.raw;
  if ('items' in value) return `[${value.items.map(compact).join(',')}]`;
  return `{${value.entries.map(([k, v]) => `${goQuote(k)}:${compact(v)}`).join(',')}}`;
}

/**
 * Indented as the version prints it: 1.9.x with Go's json.Indent over the
 * compact text (empty objects stay `{}`), 1.8.x as jsonpb's Indent writes
 * (an empty object keeps an indented empty line; an Any stays compact).
 */
function render(value: Ordered, how: Behaviour, indent = ''): string {
  if ('raw' in value) return value.raw;
  const inner = `${indent}  `;
  if ('items' in value) {
    if (value.items.length === 0) return '[]';
    return `[\n${value.items.map((v) => `${inner}${render(v, how, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (!how.reindents && value.any === true) return compact(value);
  if (value.entries.length === 0) return how.reindents ? '{}' : `{\n${inner}\n${indent}}`;
  return `{\n${value.entries.map(([k, v]) => `${inner}${goQuote(k)}: ${render(v, how, inner)}`).join(',\n')}\n${indent}}`;
}
