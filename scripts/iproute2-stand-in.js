#!/usr/bin/env node
// @ts-check
/**
 * A stand-in for iproute2's `devlink` and `ip`, as far as vifplugd can tell:
 * the same arguments, output formats and failure texts. The tests, the demo
 * (npm run demo) and the bench all run this one script, through symlinks
 * named `devlink` and `ip`:
 *
 *   <host>/bin/devlink -> .../scripts/iproute2-stand-in.js
 *   <host>/bin/ip      -> .../scripts/iproute2-stand-in.js
 *
 * The name it is run under picks the tool; everything else comes from files
 * in <host> (the directory above bin/), so that a test or a person changes
 * the "hardware" by writing files, and several fake hosts never share state:
 *
 *   devlink-ports.json    what `devlink -j port show` prints (`devlink port show` prints it as text)
 *   devlink.events        lines appended here are printed by a running `devlink monitor port`
 *   ip.events             the same for `ip -o monitor link`
 *   <tool>.behaviour      a fault for every command of the tool that knows it, e.g. "no-netlink"
 *   <command>.behaviour   a fault for one command: devlink-port-show, devlink-monitor, ip-monitor
 *   <tool>.calls          if the file exists, each run appends its arguments as a JSON line
 *   <tool>.monitor.pids   if the file exists, each monitor appends its pid
 *   forked.pids           helpers started by the fork-and-* faults
 *
 * Adding a fault: write a function (run) => void below and list it under its
 * command in COMMANDS; the file <command>.behaviour (or <tool>.behaviour)
 * containing its name selects it. A behaviour a command does not list is
 * refused loudly (exit 99), so that a typo in a test cannot pass as "ok".
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/**
 * @typedef {object} Run
 * @property {'devlink' | 'ip'} tool
 * @property {string} state   the fake host directory
 * @property {string[]} words  the arguments that are not options
 * @property {boolean} json    -j / --json was given
 */

/** @typedef {(run: Run) => void} Behaviour */

// --- what the tools print ------------------------------------------------------

/** @param {Run} run */
function portShow(run) {
  const ports = readPorts(run.state);
  process.stdout.write(run.json ? `${JSON.stringify(ports)}\n` : formatPortsText(ports));
}

/**
 * The text form of `devlink port show` (iproute2 pr_out_port): a header line
 * per port, then an indented `function:` block.
 * @param {{ port: Record<string, Record<string, unknown>> }} ports
 * @returns {string}
 */
function formatPortsText(ports) {
  let out = '';
  for (const [handle, attrs] of Object.entries(ports.port)) {
    const { function: fn, ...rest } = attrs;
    out += `${handle}: ${Object.entries(rest).map(([k, v]) => `${k} ${String(v)}`).join(' ')}\n`;
    if (fn !== undefined && fn !== null && typeof fn === 'object') {
      out += `  function:\n    ${Object.entries(fn).map(([k, v]) => `${k} ${String(v)}`).join(' ')}\n`;
    }
  }
  return out;
}

/**
 * A monitor: prints what is appended to `file` from now on, until a signal
 * ends it. Like the real `ip monitor` and `devlink monitor` (which block in
 * recvmsg() on netlink), it reads no stdin and does not watch its parent: a
 * monitor whose reader is gone lives on until its next write fails. Whoever
 * starts it must end it.
 * @param {Run} run
 * @param {string} file
 */
function follow(run, file) {
  appendIfPresent(path.join(run.state, `${run.tool}.monitor.pids`), `${process.pid}\n`);
  const events = path.join(run.state, file);
  // No events file (the demo host): wait quietly; lines appended once it exists are printed.
  let offset = sizeOf(events);
  setInterval(() => {
    const size = sizeOf(events);
    if (size <= offset) return;
    const fd = fs.openSync(events, 'r');
    const buffer = Buffer.alloc(size - offset);
    fs.readSync(fd, buffer, 0, buffer.length, offset);
    fs.closeSync(fd);
    offset = size;
    process.stdout.write(buffer);
  }, 20);
  process.on('SIGTERM', () => process.exit(0));
}

// --- faults ------------------------------------------------------------------------

/** A kernel without the devlink generic-netlink family (fixture 20). */
function noNetlink() {
  process.stderr.write('Failed to connect to devlink Netlink\n');
  process.exit(1);
}

/** Never answers: the caller must time out. */
function hang() {
  setInterval(() => undefined, 1000);
}

/** Prints something that is not devlink's JSON. */
function garbage() {
  process.stdout.write('this is not the JSON you are looking for\n');
}

/**
 * Prints more than any real host would: well-formed ports, 64 MiB of them
 * (~300k), written as fast as the reader takes them.
 */
function huge() {
  const total = 64 * 1024 * 1024;
  let written = 0;
  let n = 0;
  process.stdout.write('{"port":{');
  const more = () => {
    while (written < total) {
      let chunk = '';
      for (let i = 0; i < 256; i++, n++) {
        const vf = n % 65536;
        chunk += `${n === 0 ? '' : ','}"pci/0000:${hex2(Math.floor(n / 65536))}:00.0/${vf + 1}":{"type":"eth","netdev":"huge${n}","flavour":"pcivf","controller":0,"pfnum":0,"vfnum":${vf},"external":false,"splittable":false,"function":{"hw_addr":"00:00:00:00:00:00"}}`;
      }
      written += chunk.length;
      if (!process.stdout.write(chunk)) return void process.stdout.once('drain', more);
    }
    process.stdout.write('}}\n');
  };
  more();
}

/** @param {number} n */
function hex2(n) {
  return (n % 256).toString(16).padStart(2, '0');
}

/**
 * Fails like a kernel without devlink on every other run, and answers
 * normally in between: the intermittent "Failed to connect to devlink
 * Netlink" of a busy host. The runs are counted in <host>/<command>.runs.
 * @param {Run} run
 */
function flakyNetlink(run) {
  const counter = path.join(run.state, 'devlink-port-show.runs');
  const runs = Number(readText(counter) || '0') + 1;
  fs.writeFileSync(counter, String(runs));
  if (runs % 2 === 0) noNetlink();
  else portShow(run);
}

/**
 * A wrapper that forks: starts a helper process that never ends (its pid
 * appended to <host>/forked.pids), then hangs itself. Killing only the
 * direct child would leave the helper behind.
 * @param {Run} run
 */
function forkAndHang(run) {
  const { spawn } = require('node:child_process');
  const helper = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 1000)'], { stdio: 'ignore' });
  fs.appendFileSync(path.join(run.state, 'forked.pids'), `${helper.pid}\n`);
  hang();
}

/** A monitor that dies as soon as it starts, as a broken build or a seccomp denial would. */
function crashLoop() {
  process.stderr.write('Error: monitor crashed\n');
  process.exit(1);
}

/**
 * A monitor that forks a helper (pid appended to <host>/forked.pids) and then
 * follows events as usual.
 * @param {Run} run
 * @param {string} file
 */
function forkAndFollow(run, file) {
  const { spawn } = require('node:child_process');
  const helper = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 1000)'], { stdio: 'ignore' });
  fs.appendFileSync(path.join(run.state, 'forked.pids'), `${helper.pid}\n`);
  follow(run, file);
}

/** Exits 1 with an error, as devlink does for a device it cannot query. */
function fail() {
  process.stderr.write('devlink answers: Invalid argument\n');
  process.exit(1);
}

/**
 * Every command the stand-in answers, with the behaviours it can be given.
 * "ok" is what a healthy host does.
 * @satisfies {Record<string, Record<string, Behaviour>>}
 */
const COMMANDS = {
  'devlink-port-show': { ok: portShow, 'no-netlink': noNetlink, hang, garbage, huge, fail, 'flaky-netlink': flakyNetlink, 'fork-and-hang': forkAndHang },
  'devlink-monitor': {
    ok: (run) => follow(run, 'devlink.events'),
    'no-netlink': noNetlink,
    'crash-loop': crashLoop,
    'fork-and-follow': (run) => forkAndFollow(run, 'devlink.events'),
  },
  'ip-monitor': { ok: (run) => follow(run, 'ip.events'), 'crash-loop': crashLoop, 'fork-and-follow': (run) => forkAndFollow(run, 'ip.events') },
};

// --- dispatch ----------------------------------------------------------------------

/** @type {Record<string, Record<string, Behaviour>>} */
const TABLE = COMMANDS;

/**
 * Which command the arguments name, or why there is none (iproute2's own words).
 * @param {'devlink' | 'ip'} tool
 * @param {string[]} words
 * @returns {{ command: string } | { error: string }}
 */
function commandOf(tool, words) {
  if (tool === 'ip') {
    if (words[0] === 'monitor' && (words[1] === 'link' || words[1] === undefined)) return { command: 'ip-monitor' };
    return { error: `Command "${words[0] ?? ''}" is unknown, try "ip help".` };
  }
  const object = words[0] === 'mon' ? 'monitor' : words[0];
  if (object === 'monitor' && (words[1] === 'port' || words[1] === undefined)) return { command: 'devlink-monitor' };
  if (object === 'port' && (words[1] === 'show' || words[1] === 'list' || words[1] === undefined)) return { command: 'devlink-port-show' };
  return { error: `Object "${words[0] ?? ''}" not found` };
}

/**
 * The behaviour chosen for `command`: its own file, else the tool's file if
 * the command knows that behaviour, else ok.
 * @param {string} state
 * @param {'devlink' | 'ip'} tool
 * @param {string} command
 * @returns {string}
 */
function behaviourOf(state, tool, command) {
  const own = readText(path.join(state, `${command}.behaviour`)).trim();
  if (own !== '') return own;
  const shared = readText(path.join(state, `${tool}.behaviour`)).trim();
  return shared !== '' && shared in (TABLE[command] ?? {}) ? shared : 'ok';
}

function main() {
  const invokedAs = process.argv[1] ?? '';
  const name = path.basename(invokedAs);
  if (name !== 'devlink' && name !== 'ip') {
    process.stderr.write(`iproute2 stand-in: run me through a symlink named devlink or ip (not ${name})\n`);
    process.exit(99);
  }
  /** @type {'devlink' | 'ip'} */
  const tool = name;
  const state = path.dirname(path.dirname(invokedAs));
  const argv = process.argv.slice(2);
  appendIfPresent(path.join(state, `${tool}.calls`), `${JSON.stringify(argv)}\n`);
  const flags = argv.filter((a) => a.startsWith('-'));
  const words = argv.filter((a) => !a.startsWith('-'));
  if (tool === 'devlink' && flags.includes('-V')) {
    process.stdout.write('devlink utility, iproute2-6.1.0\n');
    return;
  }
  const found = commandOf(tool, words);
  if ('error' in found) {
    process.stderr.write(`${found.error}\n`);
    process.exit(1);
  }
  const chosen = behaviourOf(state, tool, found.command);
  const behaviour = TABLE[found.command]?.[chosen];
  if (behaviour === undefined) {
    process.stderr.write(`iproute2 stand-in: ${found.command} has no behaviour "${chosen}" (known: ${Object.keys(TABLE[found.command] ?? {}).join(', ')})\n`);
    process.exit(99);
  }
  behaviour({ tool, state, words, json: flags.some((f) => f === '-j' || f === '--json' || f === '-jp' || f === '-pj') });
}

// --- small helpers -------------------------------------------------------------------

/** @param {string} state */
function readPorts(state) {
  const text = readText(path.join(state, 'devlink-ports.json'));
  return text === '' ? { port: {} } : JSON.parse(text);
}

/** @param {string} file */
function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** @param {string} file @param {string} text */
function appendIfPresent(file, text) {
  if (fs.existsSync(file)) fs.appendFileSync(file, text);
}

/** @param {string} file */
function sizeOf(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

if (require.main === module) main();

module.exports = { COMMANDS, formatPortsText };
