#!/usr/bin/env node
'use strict';
/**
 * vifplug health probe: asks vifplugd's gRPC health service
 * (grpc.health.v1.Health/Check) whether it serves, for the image's
 * HEALTHCHECK and Kubernetes exec probes. There is no grpc_health_probe
 * binary in the registries we can use, and a TCP poke would not tell a
 * draining or wedged daemon from a healthy one.
 *
 *   healthcheck.js [--service NAME] [--timeout SECONDS] [ADDR...]
 *
 * ADDR is a vifplugd listen address (unix:///abs.sock, unix:rel.sock,
 * /abs.sock, HOST:PORT). Without ADDR the probe checks where the daemon
 * listens, resolved as the daemon itself resolves it: the --listen flags of
 * the daemon's command line (/proc/1/cmdline: the daemon is PID 1 of its
 * container, or follows the `--` of an init such as tini), else
 * VIFPLUG_LISTEN, else the default unix:///run/vifplug/vifplug.sock.
 * Every address must answer SERVING.
 *
 * Exit status: 0 when every address answers SERVING, 1 otherwise, bad usage
 * included (Docker reserves 2 in health checks). One line says why.
 *
 * Plain CommonJS with no dependency beyond @grpc/grpc-js, which the image's
 * production node_modules holds: the two health messages are encoded by hand
 * rather than shipping a protobuf toolchain for one RPC.
 */

const { readFileSync, readlinkSync } = require('node:fs');
const { isAbsolute, resolve } = require('node:path');

const DEFAULT_LISTEN = 'unix:///run/vifplug/vifplug.sock';
const CHECK_PATH = '/grpc.health.v1.Health/Check';
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

class UsageError extends Error {}

/** The --listen values in a vifplugd command line (the process's argv). */
function listenFlags(argv) {
  const found = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    if (arg === '--listen' && i + 1 < argv.length) found.push(argv[++i]);
    else if (arg.startsWith('--listen=')) found.push(arg.slice('--listen='.length));
  }
  return found;
}

/** Whether a command line runs vifplugd (directly, through node, or after an init's `--`). */
function isVifplugd(argv) {
  return argv.some((arg) => /(^|\/)vifplugd(\.js)?$/.test(arg));
}

/**
 * The daemon's listen specs from its command line and environment, flags
 * first as in vifplugd; undefined when `cmdline` is not a vifplugd's.
 */
function daemonListen(cmdline, env) {
  const argv = cmdline.split('\0').filter((s) => s !== '');
  if (!isVifplugd(argv)) return undefined;
  const flags = listenFlags(argv);
  if (flags.length > 0) return flags;
  return splitList(env.VIFPLUG_LISTEN);
}

function splitList(value) {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The gRPC target to dial for a listen spec, or a reason it cannot be
 * probed. Wildcard hosts are dialled on loopback; relative unix paths are
 * resolved against `cwd` (the daemon's working directory).
 */
function probeTarget(spec, cwd) {
  if (spec.startsWith('unix:')) {
    let path = spec.slice('unix:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') return { error: `"${spec}" has no socket path` };
    return { target: `unix://${isAbsolute(path) ? path : resolve(cwd, path)}` };
  }
  if (spec.startsWith('/')) return { target: `unix://${spec}` };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(spec);
  if (m === null) return { error: `"${spec}" is not a listen address (unix:///abs/path.sock, unix:rel.sock or HOST:PORT)` };
  if (m[3] === '0') return { error: `"${spec}" listens on a random port; pass the bound address to the probe` };
  const host = m[1] ?? m[2];
  if (host === '0.0.0.0') return { target: `127.0.0.1:${m[3]}` };
  if (host === '::') return { target: `[::1]:${m[3]}` };
  return { target: host.includes(':') ? `[${host}]:${m[3]}` : `${host}:${m[3]}` };
}

/** Where to probe when no address is given: see the header. */
function defaultSpecs(env) {
  let cmdline;
  let cwd = process.cwd();
  try {
    cmdline = readFileSync('/proc/1/cmdline', 'latin1');
    cwd = readlinkSync('/proc/1/cwd');
  } catch {
    // Not Linux, or /proc hidden: the environment and the default remain; a
    // daemon PID 1 we cannot read the cwd of has its relative paths resolved here.
  }
  const fromDaemon = cmdline === undefined ? undefined : daemonListen(cmdline, env);
  if (fromDaemon !== undefined && fromDaemon.length > 0) return { specs: fromDaemon, cwd };
  const fromEnv = splitList(env.VIFPLUG_LISTEN);
  return { specs: fromEnv.length > 0 ? fromEnv : [DEFAULT_LISTEN], cwd: process.cwd() };
}

function parseProbeArgs(argv) {
  const options = { service: '', timeoutMs: 3000, addresses: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--service') options.service = value();
    else if (arg === '--timeout') {
      const text = value();
      if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new UsageError(`--timeout "${text}" is not a positive number of seconds`);
      options.timeoutMs = Number(text) * 1000;
    } else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown flag ${arg}`);
    else options.addresses.push(arg);
  }
  return options;
}

// --- the two messages of grpc.health.v1, by hand -------------------------

function encodeRequest(service) {
  // HealthCheckRequest { string service = 1; }
  const bytes = Buffer.from(service, 'utf8');
  if (bytes.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(bytes.length), bytes]);
}

function encodeVarint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** HealthCheckResponse { ServingStatus status = 1; } -> the status number (0 when absent). */
function decodeResponse(buf) {
  let status = 0;
  let pos = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated health response');
      const b = buf[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('malformed varint in health response');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const value = varint();
      if (field === 1) status = value;
    } else if (wire === 1) pos += 8;
    else if (wire === 2) {
      const length = varint(); // read first: `pos += varint()` would add to the old pos
      pos += length;
    }
    else if (wire === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wire} in health response`);
  }
  return status;
}

// --- probing ---------------------------------------------------------------

/** Resolves with "SERVING", another status name, or an error message. */
function check(target, service, timeoutMs) {
  const grpc = require('@grpc/grpc-js');
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise((resolvePromise) => {
    client.makeUnaryRequest(
      CHECK_PATH,
      encodeRequest,
      decodeResponse,
      service,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, status) => {
        client.close();
        // grpc-js appends an empty "Resolution note:" to connection errors; drop it.
        const details = String(err?.details ?? '').replace(/\s*Resolution note:\s*$/, '');
        if (err) resolvePromise({ ok: false, text: `${grpc.status[err.code] ?? err.code}: ${details}` });
        else {
          const name = STATUS_NAMES[status] ?? String(status);
          resolvePromise({ ok: name === 'SERVING', text: name });
        }
      },
    );
  });
}

async function main(argv, env) {
  let options;
  try {
    options = parseProbeArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vifplug-healthcheck: ${err.message}; usage: healthcheck.js [--service NAME] [--timeout SECONDS] [ADDR...]\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write('usage: healthcheck.js [--service NAME] [--timeout SECONDS] [ADDR...]\n');
    process.stdout.write("exit 0 when every ADDR (default: the daemon's --listen) answers SERVING to grpc.health.v1.Health/Check\n");
    return 0;
  }
  const { specs, cwd } = options.addresses.length > 0 ? { specs: options.addresses, cwd: process.cwd() } : defaultSpecs(env);
  const results = await Promise.all(
    specs.map(async (spec) => {
      const t = probeTarget(spec, cwd);
      if (t.error !== undefined) return { spec, ok: false, text: t.error };
      return { spec, ...(await check(t.target, options.service, options.timeoutMs)) };
    }),
  );
  const service = options.service === '' ? 'vifplugd' : options.service;
  const bad = results.filter((r) => !r.ok);
  if (bad.length === 0) {
    process.stdout.write(`${service} SERVING on ${specs.join(', ')}\n`);
    return 0;
  }
  for (const r of bad) {
    process.stderr.write(
      `vifplug-healthcheck: ${service} is not serving on ${r.spec}: ${r.text}` +
        (/UNAVAILABLE|DEADLINE/.test(r.text) ? ' (is vifplugd running and listening there? pass its address as an argument)' : '') +
        '\n',
    );
  }
  return 1;
}

module.exports = { listenFlags, daemonListen, probeTarget, parseProbeArgs, encodeRequest, decodeResponse };

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`vifplug-healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
