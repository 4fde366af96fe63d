/**
 * grpcurl as the README uses it, for a test to run its examples: grpcurl
 * itself is neither in Debian nor on npm, so this does what grpcurl 1.9.x
 * does, through the server's reflection only (ReflectionClient resolves
 * descriptors as grpcurl's grpcreflect does):
 *
 * - `list`, `describe SYMBOL`, and unary calls `SERVICE/METHOD` with `-d JSON`;
 * - the address: `unix:///abs/path.sock` or `HOST:PORT`. grpcurl 1.9.2 and
 *   later no longer dial `-unix /path` (they need the unix:// address, which
 *   older ones reject), so `-unix` is refused here as it fails there;
 * - output as grpcurl prints it: responses as indented protobuf JSON (camelCase
 *   names, defaults omitted, an empty message as "{", "", "}"); a failure on
 *   stderr as "ERROR: / Code: NotFound / Message: ... / Details:", or with
 *   `-format-error` as the google.rpc.Status in JSON; details are decoded
 *   with descriptors found by reflection, as grpcurl's Any resolver does;
 * - the exit status: 0, 64 + the gRPC status code for a failed call, 1 or 2
 *   for grpcurl's own errors;
 * - a server stream is followed until it ends, or until it has been quiet for
 *   QUIET_MS (where a person watching would press ^C).
 */

import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMethod, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';

import { STATUS_DETAILS_KEY, goCodeName } from '../../src/api/status';
import { ReflectionClient, descriptorSet } from './reflection-client';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** grpcurl's offset for exit codes that carry a gRPC status (cmd/grpcurl: statusCodeOffset). */
export const STATUS_CODE_OFFSET = 64;

/** How long a server stream may stay quiet before it is cut, as by ^C. */
export const QUIET_MS = 1_000;

interface Parsed {
  plaintext: boolean;
  data: string | undefined;
  formatError: boolean;
  unixFlag: boolean;
  emitDefaults: boolean;
  positionals: string[];
}

/** Runs one grpcurl command line (already split into words). */
export async function grpcurl(args: readonly string[]): Promise<CommandResult> {
  let parsed: Parsed;
  try {
    parsed = parseFlags(args);
  } catch (err) {
    return usage((err as Error).message);
  }
  const [address, ...rest] = parsed.positionals;
  if (address === undefined) return usage('Too few arguments.');
  if (parsed.unixFlag) {
    return { stdout: '', stderr: `Failed to dial target host "${address}": grpcurl 1.9.2 and later need the address unix://${address} instead of -unix\n`, code: 1 };
  }
  if (!parsed.plaintext) return usage('this stand-in speaks plaintext only: add -plaintext (the daemon serves plaintext on unix sockets)');
  const target = address.startsWith('unix://') ? address : address.startsWith('unix:') || address.startsWith('/') ? undefined : address;
  if (target === undefined) return { stdout: '', stderr: `Failed to dial target host "${address}": use unix:///absolute/path.sock\n`, code: 1 };
  const [verb, symbol, ...extra] = rest;
  if (verb === undefined) return usage('Too few arguments.');
  if (extra.length > 0 || ((verb === 'list' || verb === 'describe') && rest.length > 2)) return usage('Too many arguments.');

  const reflection = new ReflectionClient(target, 'v1');
  try {
    if (verb === 'list') return await list(reflection, symbol);
    if (verb === 'describe') return await describe(reflection, symbol);
    if (symbol !== undefined) return usage('Too many arguments.');
    return await invoke(reflection, target, verb, parsed);
  } catch (err) {
    return { stdout: '', stderr: `${(err as Error).message}\n`, code: 1 };
  } finally {
    reflection.close();
  }
}

function parseFlags(args: readonly string[]): Parsed {
  const out: Parsed = { plaintext: false, data: undefined, formatError: false, unixFlag: false, emitDefaults: false, positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || out.positionals.length > 0) {
      out.positionals.push(arg);
      continue;
    }
    const name = arg.replace(/^--?/, '').split('=')[0]!;
    const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
    switch (name) {
      case 'plaintext':
        out.plaintext = true;
        break;
      case 'format-error':
        out.formatError = true;
        break;
      case 'unix':
        out.unixFlag = inline === undefined || inline === 'true';
        break;
      case 'emit-defaults':
        out.emitDefaults = true;
        break;
      case 'd':
        out.data = inline ?? args[++i];
        if (out.data === undefined) throw new Error('flag needs an argument: -d');
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

async function list(reflection: ReflectionClient, service: string | undefined): Promise<CommandResult> {
  if (service === undefined) return { stdout: (await reflection.listServices()).sort().map((s) => `${s}\n`).join(''), stderr: '', code: 0 };
  const registry = await registryFor(reflection, [service]);
  const svc = registry.getService(service);
  if (svc === undefined) return { stdout: '', stderr: `Failed to list methods for service "${service}": Service not found: ${service}\n`, code: 1 };
  return { stdout: svc.methods.map((m) => `${service}.${m.name}\n`).join(''), stderr: '', code: 0 };
}

async function describe(reflection: ReflectionClient, symbol: string | undefined): Promise<CommandResult> {
  const symbols = symbol === undefined ? (await reflection.listServices()).sort() : [symbol.replace(/^\./, '')];
  let out = '';
  for (const s of symbols) {
    // grpcurl asks reflection for the file containing the symbol itself, a method's name included.
    const registry = await registryFor(reflection, [s], true);
    const found = findSymbol(registry, s);
    if (found === undefined) return { stdout: out, stderr: `Failed to resolve symbol "${s}": Symbol not found: ${s}\n`, code: 1 };
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

async function invoke(reflection: ReflectionClient, target: string, symbol: string, parsed: Parsed): Promise<CommandResult> {
  const slash = symbol.includes('/') ? symbol.lastIndexOf('/') : symbol.lastIndexOf('.');
  const serviceName = symbol.slice(0, slash);
  const methodName = symbol.slice(slash + 1);
  let registry: FileRegistry;
  try {
    registry = await registryFor(reflection, [serviceName]);
  } catch (err) {
    return { stdout: '', stderr: `Error invoking method "${symbol}": target server does not expose service "${serviceName}" (${(err as Error).message})\n`, code: 1 };
  }
  const method = registry.getService(serviceName)?.methods.find((m) => m.name === methodName);
  if (method === undefined) return { stdout: '', stderr: `Error invoking method "${symbol}": service "${serviceName}" does not include a method named "${methodName}"\n`, code: 1 };
  if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') {
    return { stdout: '', stderr: `this stand-in calls unary and server-streaming methods, not ${method.methodKind} ${symbol}\n`, code: 1 };
  }
  let request: Uint8Array;
  try {
    const json = parsed.data === undefined || parsed.data.trim() === '' ? {} : (JSON.parse(parsed.data) as JsonValue);
    request = toBinary(method.input, fromJson(method.input, json, { registry }));
  } catch (err) {
    return { stdout: '', stderr: `Error invoking method "${symbol}": error getting request data: ${(err as Error).message}\n`, code: 1 };
  }
  const client = new Client(target, credentials.createInsecure());
  const print = (bytes: Buffer) => `${jsonpb(toJson(method.output, fromBinary(method.output, bytes), { registry, alwaysEmitImplicit: parsed.emitDefaults }))}\n`;
  const path = `/${serviceName}/${methodName}`;
  try {
    if (method.methodKind === 'server_streaming') {
      const { messages, error } = await follow(client, path, Buffer.from(request));
      const stdout = messages.map(print).join('');
      return error === undefined ? { stdout, stderr: '', code: 0 } : { ...failed(error, registry, parsed.formatError), stdout };
    }
    const answer = await new Promise<{ response?: Buffer; error?: ServiceError }>((resolve) => {
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(request), new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
        resolve(error ? { error } : { response: response! }),
      );
    });
    if (answer.error !== undefined) return failed(answer.error, registry, parsed.formatError);
    return { stdout: print(answer.response!), stderr: '', code: 0 };
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

/** grpcurl's report of a failed call, from the google.rpc.Status in the trailers. */
function failed(error: ServiceError, registry: FileRegistry, formatError: boolean): CommandResult {
  const statusType = registry.getMessage('google.rpc.Status')!;
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  const status: DescMessageJson = Buffer.isBuffer(raw)
    ? (toJson(statusType, fromBinary(statusType, raw), { registry }) as DescMessageJson)
    : { code: error.code, message: error.details };
  const code = STATUS_CODE_OFFSET + error.code;
  if (formatError) return { stdout: '', stderr: jsonpb(status as JsonValue), code };
  let text = `ERROR:\n  Code: ${goCodeName(error.code)}\n  Message: ${error.details}\n`;
  const details = (status['details'] ?? []) as JsonValue[];
  if (details.length > 0) {
    text += '  Details:\n';
    details.forEach((detail, i) => {
      const prefix = `  ${i + 1})`;
      const lines = jsonpb(detail).split('\n');
      text += `${prefix}\t${lines[0]}\n`;
      for (const line of lines.slice(1)) text += `${' '.repeat(prefix.length)}\t${line}\n`;
    });
  }
  return { stdout: '', stderr: text, code };
}

type DescMessageJson = { [key: string]: JsonValue };

/**
 * JSON as grpcurl's jsonpb marshaler writes it with a two-space indent: an
 * Any's "@type" first, and an empty message as "{", "", "}".
 */
export function jsonpb(value: JsonValue, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return value.length === 0 ? '[]' : `[\n${value.map((v) => `${inner}${jsonpb(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => Number(b === '@type') - Number(a === '@type'));
    if (entries.length === 0) return `{\n\n${indent}}`;
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${jsonpb(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}
