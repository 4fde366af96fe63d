/**
 * OVSDB remotes as OVS writes them (`unix:PATH`, `tcp:HOST:PORT`,
 * `ssl:HOST:PORT`, and comma-separated lists for a clustered database),
 * parsed with an error that says what is wrong and what is expected. It
 * must not connect: transport.ts does.
 */

import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';

import { OvsdbConfigError } from './errors';

/** OVS's default OVSDB port, used when a tcp: or ssl: remote names none (as ovs-vsctl does). */
export const DEFAULT_OVSDB_PORT = 6640;

/** One active OVSDB remote, as OVS writes it: `unix:PATH`, `tcp:HOST:PORT` or `ssl:HOST:PORT`. */
export type Remote =
  | { readonly kind: 'unix'; readonly path: string; readonly name: string }
  | { readonly kind: 'tcp' | 'ssl'; readonly host: string; readonly port: number; readonly name: string };

const EXPECTED =
  'expected unix:PATH, tcp:IP:PORT or ssl:IP:PORT (IPv6 addresses in brackets, e.g. tcp:[::1]:6641), ' +
  'or a comma-separated list of them for the members of a clustered database';

// A DNS name as OVS accepts one where it resolves names; IP literals are checked by net.isIP.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function invalid(text: string, why: string): OvsdbConfigError {
  return new OvsdbConfigError(`invalid OVSDB remote "${text}": ${why}; ${EXPECTED}`);
}

/**
 * The remotes of one database, in the order written: a single remote, or the
 * comma-separated members of a clustered database (`ovn-remote`'s syntax).
 * A relative `unix:` path is taken relative to `rundir`, as OVS does with its
 * run directory.
 */
export function parseRemotes(text: string, options: { rundir?: string } = {}): Remote[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 1 && items[0] === '') throw invalid(text, 'it is empty');
  const remotes = items.map((item) => {
    if (item === '') throw invalid(text, 'the list has an empty member');
    return parseRemote(item, options);
  });
  const seen = new Set<string>();
  for (const r of remotes) {
    if (seen.has(r.name)) throw invalid(text, `${r.name} is listed twice`);
    seen.add(r.name);
  }
  return remotes;
}

/** One remote; see parseRemotes. */
export function parseRemote(text: string, options: { rundir?: string } = {}): Remote {
  const colon = text.indexOf(':');
  const method = colon < 0 ? '' : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  switch (method) {
    case 'unix': {
      if (rest === '') throw invalid(text, 'the socket path is empty');
      const path = isAbsolute(rest) ? rest : resolve(options.rundir ?? defaultRundir(), rest);
      return { kind: 'unix', path, name: `unix:${path}` };
    }
    case 'tcp':
    case 'ssl': {
      const { host, port } = parseHostPort(text, rest);
      const shown = host.includes(':') ? `[${host}]` : host;
      return { kind: method, host, port, name: `${method}:${shown}:${port}` };
    }
    case 'punix':
    case 'ptcp':
    case 'pssl':
      throw invalid(text, `${method}: is a listening (passive) remote for a server; a client connects with ${method.slice(1)}:`);
    default:
      throw invalid(text, /^[a-z]+$/.test(method) ? `"${method}:" is not a connection method` : 'it has no method prefix');
  }
}

function parseHostPort(text: string, rest: string): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalid(text, 'the "[" of an IPv6 address is not closed');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw invalid(text, `unexpected "${after}" after the address`);
    portText = after === '' ? undefined : after.slice(1);
    if (isIP(host) !== 6) throw invalid(text, `"${host}" is not an IPv6 address`);
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) throw invalid(text, 'an IPv6 address must be written in brackets');
    host = parts[0]!;
    portText = parts[1];
    if (host === '') throw invalid(text, 'the host is empty');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) throw invalid(text, `"${host}" is neither an IP address nor a host name`);
  }
  if (portText === undefined) return { host, port: DEFAULT_OVSDB_PORT };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw invalid(text, `"${portText}" is not a port number (1-65535)`);
  }
  return { host, port: Number(portText) };
}

/** Where OVS puts its sockets: $OVS_RUNDIR, else /var/run/openvswitch. */
export function defaultRundir(): string {
  return process.env.OVS_RUNDIR || '/var/run/openvswitch';
}
