/**
 * Addresses, as the API and the daemon spell them: one shape for "where a
 * gRPC server is" (a unix socket or a TCP host and port), the two ways of
 * reading one, and the target grpc-js dials or binds for it.
 *
 * The two parsers differ on purpose. `parseListen` reads the daemon's own
 * --listen, given by its operator: it takes the gRPC naming in full
 * (relative unix paths, a bare absolute path as the kubelet passes them).
 * `parseEndpoint` reads a provider's endpoint, given by a caller of
 * Register: a path that leaves room for interpretation could name a socket
 * other than the one the caller meant, so it is refused.
 *
 * Pure: no I/O. Whether a unix endpoint is safe to dial (a socket, in a
 * directory nobody else can write) is remote/endpoint.ts's check.
 */

import { isAbsolute, posix, resolve } from 'node:path';

import { PlugError } from '../registry';

/** Where a gRPC server is, or is to be. `spec` is the text it was read from. */
export type GrpcAddress =
  | { readonly kind: 'unix'; readonly spec: string; readonly path: string }
  | { readonly kind: 'tcp'; readonly spec: string; readonly host: string; readonly port: number };

export type TcpAddress = Extract<GrpcAddress, { kind: 'tcp' }>;

/** A provider's endpoint: an address that parseEndpoint accepted. */
export type ProviderEndpoint = GrpcAddress;

/** sun_path is 108 bytes on Linux, the last one a NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Parses a listen address: `unix:///abs/path.sock`, `unix:relative.sock`
 * (gRPC naming, relative to the working directory), a bare absolute path
 * (as the kubelet passes endpoints), or `HOST:PORT` / `[IPv6]:PORT`.
 */
export function parseListen(spec: string, cwd = process.cwd()): GrpcAddress {
  if (spec.startsWith('unix:')) {
    let path = spec.slice('unix:'.length);
    if (path.startsWith('//')) {
      path = path.slice(2);
      if (!path.startsWith('/')) throw new Error(`"${spec}": unix:// needs an absolute path (three slashes: unix:///run/vifplug.sock)`);
    }
    if (path === '') throw new Error(`"${spec}": no socket path after "unix:"`);
    return { kind: 'unix', spec, path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (spec.startsWith('/')) return { kind: 'unix', spec, path: spec };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(spec);
  if (m === null) {
    throw new Error(`"${spec}" is not a listen address; use unix:///abs/path.sock, unix:relative.sock or HOST:PORT`);
  }
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`"${spec}": port ${port} is out of range 0-65535`);
  return { kind: 'tcp', spec, host: m[1] ?? m[2]!, port };
}

/** The grpc-js target of an address, to bind or to dial. */
export function bindTarget(address: GrpcAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** True for addresses that only this host can reach. */
export function isLoopback(address: GrpcAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Why an endpoint string was refused (ErrorInfo metadata "problem"). */
export type EndpointProblem = 'malformed' | 'relative' | 'dot-segment' | 'too-long' | 'host';

/**
 * Parses a provider endpoint: `unix:///abs/path.sock`, or `HOST:PORT` /
 * `[IPv6]:PORT` for a provider reached over TLS. Stricter than parseListen:
 * relative paths, "." or ".." components and a host part are refused with
 * INVALID_ARGUMENT / INVALID_ENDPOINT.
 */
export function parseEndpoint(spec: string): ProviderEndpoint {
  if (spec.includes('\0')) throw badEndpoint(spec, 'malformed', 'it contains a NUL character');
  if (spec.startsWith('unix:')) return parseUnixEndpoint(spec);
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(spec);
  if (m === null) {
    const hint = spec.startsWith('/') ? `; write unix://${spec}` : '';
    throw badEndpoint(spec, 'malformed', `use unix:///abs/path.sock, or HOST:PORT for a provider served over TLS${hint}`);
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw badEndpoint(spec, 'malformed', `port ${port} is out of range 1-65535`);
  return { kind: 'tcp', spec, host: m[1] ?? m[2]!, port };
}

function parseUnixEndpoint(spec: string): ProviderEndpoint {
  const rest = spec.slice('unix:'.length);
  if (!rest.startsWith('//')) {
    throw badEndpoint(spec, 'relative', 'a provider socket must be named by its absolute path: unix:///abs/path.sock (three slashes)');
  }
  const path = rest.slice(2);
  if (!path.startsWith('/')) {
    const host = path.split('/')[0];
    throw badEndpoint(
      spec,
      path === '' ? 'malformed' : 'host',
      path === '' ? 'no socket path after "unix://"' : `unix:// takes no host ("${host}"); write unix:///abs/path.sock (three slashes)`,
    );
  }
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) {
    throw badEndpoint(spec, 'dot-segment', 'the path has a "." or ".." component; give the socket\'s canonical path');
  }
  if (segments.some((s) => s === '') || posix.normalize(path) !== path) {
    throw badEndpoint(spec, 'malformed', 'the path has an empty component ("//") or a trailing "/"; give the socket\'s canonical path');
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw badEndpoint(spec, 'too-long', `the socket path is ${bytes} bytes; a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  return { kind: 'unix', spec, path };
}

function badEndpoint(spec: string, problem: EndpointProblem, why: string): PlugError {
  const shown = spec.length > 120 ? `${spec.slice(0, 117)}...` : spec;
  return new PlugError('INVALID_ARGUMENT', 'INVALID_ENDPOINT', `endpoint "${shown}" is not usable: ${why}`, {
    metadata: { field: 'endpoint', problem },
    fieldViolations: [{ field: 'endpoint', description: why }],
  });
}
