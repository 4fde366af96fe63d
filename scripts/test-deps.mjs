#!/usr/bin/env node
// Installs the Debian packages the tests drive for real when any file the
// tests use from them is missing, so that `npm test` on a fresh Debian or
// Ubuntu machine needs nothing else; `--for demo:ovn` does the same for the
// part of them `npm run demo:ovn` runs (the entries marked `demo`). Each
// package is probed by the files the tests need from it (not by the one its
// main binary happens to be), and after installing, every file is checked
// again: a package that no longer ships what the tests use fails here, by
// name, not later in some test.
//
// Only root on a Debian-like system installs; anyone else is told what to
// install and exits 1 (the tests, or the demo, could only fail later).
//
// Installing OVS/OVN on a host whose init system starts services starts the
// system's OVS and OVN: the tests and the demo never use those (they run
// their own daemons under a temporary directory), but a developer's machine
// may not want them. VIFPLUG_TEST_DEPS=skip installs and checks nothing.
//
// `--no-install-recommends` keeps a fresh machine lean, and leaves out what
// a package only recommends: hence libprotobuf-dev (the well-known .proto
// files protoc imports) is listed in its own right.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PY = '/usr/lib/python3/dist-packages';

/**
 * What the tests use: a file, the Debian package that ships it, and what
 * needs it; `demo: true` when `npm run demo:ovn` needs it too.
 */
export const NEEDS = [
  // Real OVS in user space, with its dummy datapath (demo/ovn/sandbox.ts, test/helpers/ovsdb-server.ts).
  { file: '/usr/sbin/ovsdb-server', pkg: 'openvswitch-common', use: 'OVSDB servers', demo: true },
  { file: '/usr/bin/ovsdb-tool', pkg: 'openvswitch-common', use: 'creating OVSDB databases', demo: true },
  { file: '/usr/bin/ovsdb-client', pkg: 'openvswitch-common', use: 'OVSDB checks' },
  { file: '/usr/bin/ovs-appctl', pkg: 'openvswitch-common', use: 'stopping daemons', demo: true },
  { file: '/usr/sbin/ovs-vswitchd', pkg: 'openvswitch-switch', use: 'the OVS switch', demo: true },
  { file: '/usr/bin/ovs-vsctl', pkg: 'openvswitch-switch', use: 'the OVS database', demo: true },
  { file: '/usr/share/openvswitch/vswitch.ovsschema', pkg: 'openvswitch-switch', use: 'the Open_vSwitch schema', demo: true },
  // Real OVN.
  { file: '/usr/bin/ovn-northd', pkg: 'ovn-central', use: 'ovn-northd', demo: true },
  { file: '/usr/share/ovn/ovn-nb.ovsschema', pkg: 'ovn-central', use: 'the Northbound schema', demo: true },
  { file: '/usr/share/ovn/ovn-sb.ovsschema', pkg: 'ovn-central', use: 'the Southbound schema', demo: true },
  { file: '/usr/bin/ovn-controller', pkg: 'ovn-host', use: 'ovn-controller', demo: true },
  { file: '/usr/bin/ovn-nbctl', pkg: 'ovn-common', use: 'Northbound writes', demo: true },
  { file: '/usr/bin/ovn-sbctl', pkg: 'ovn-common', use: 'Southbound writes', demo: true },
  // Certificates for the TLS and SSL tests.
  { file: '/usr/bin/openssl', pkg: 'openssl', use: 'test certificates' },
  // The Python SDK (python/), its example provider, and the README's Python client.
  { file: `${PY}/grpc/__init__.py`, pkg: 'python3-grpcio', use: 'Python gRPC' },
  { file: `${PY}/google/protobuf/__init__.py`, pkg: 'python3-protobuf', use: 'Python protobuf' },
  // The SDK built as a wheel and installed by pip, as a user installs it (test/python-sdk/example.test.ts).
  { file: `${PY}/pip/__init__.py`, pkg: 'python3-pip', use: 'pip wheel and pip install of python/' },
  { file: `${PY}/setuptools/build_meta.py`, pkg: 'python3-setuptools', use: "python/pyproject.toml's build backend" },
  { file: `${PY}/wheel/bdist_wheel.py`, pkg: 'python3-wheel', use: 'bdist_wheel, which setuptools 66 builds wheels with' },
  // proto3 `optional` needs protoc 3.15+, which Debian's grpc_tools (grpcio-tools 1.14) is not: the SDK's
  // generated code and the docs' Python client come from protoc and grpc_python_plugin.
  { file: '/usr/bin/protoc', pkg: 'protobuf-compiler', use: 'protoc' },
  { file: '/usr/include/google/protobuf/any.proto', pkg: 'libprotobuf-dev', use: "protoc's well-known types (google/rpc/status.proto imports any.proto)" },
  { file: '/usr/bin/grpc_python_plugin', pkg: 'protobuf-compiler-grpc', use: "gRPC's Python plugin for protoc" },
  // Checks of deploy/systemd's units.
  { file: '/usr/bin/systemd-analyze', pkg: 'systemd', use: 'systemd-analyze verify and security' },
  { file: '/usr/bin/systemd-sysusers', pkg: 'systemd', use: 'systemd-sysusers on deploy/systemd/vifplug.sysusers' },
  // Every devlink/ip child runs under setsid.
  { file: '/usr/bin/setsid', pkg: 'util-linux', use: "the daemon's process groups", demo: true },
];

/** Who needs the files, by the argument of `--for`: the tests (every entry), or the OVN demo. */
const USERS = {
  test: { who: 'the tests', run: 'npm test', needs: NEEDS },
  'demo:ovn': { who: 'the OVN demo', run: 'npm run demo:ovn', needs: NEEDS.filter((need) => need.demo) },
};

/** The packages whose files are missing. */
export function missingPackages(needs = NEEDS) {
  return [...new Set(needs.filter((need) => !existsSync(need.file)).map((need) => need.pkg))];
}

function main(argv) {
  if (process.env.VIFPLUG_TEST_DEPS === 'skip') return 0;
  const name = argv[0] === '--for' ? argv[1] : argv.length === 0 ? 'test' : undefined;
  const user = name === undefined ? undefined : USERS[name];
  if (user === undefined || argv.length > 2) {
    console.error(`usage: test-deps.mjs [--for ${Object.keys(USERS).join('|')}] (got: ${argv.join(' ')})`);
    return 2;
  }
  const { who, run, needs } = user;
  const missing = missingPackages(needs);
  if (missing.length === 0) return 0;
  const install = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (process.getuid?.() !== 0 || !hasApt) {
    const files = needs.filter((need) => missing.includes(need.pkg) && !existsSync(need.file)).map((need) => `  ${need.file} (${need.pkg}: ${need.use})`);
    console.error(
      [`test-deps: files needed by ${who} are not installed:`, ...files, `install them as root (${install}) and run again;`, `as root on Debian or Ubuntu, \`${run}\` installs them itself`].join('\n'),
    );
    return 1;
  }
  console.error(`test-deps: installing ${missing.join(', ')} for ${who} (the first run on a fresh machine takes a minute or two)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) {
      console.error(`test-deps: apt-get ${args.join(' ')} failed; is a Debian mirror reachable? Install by hand: ${install}`);
      return 1;
    }
  }
  const still = needs.filter((need) => !existsSync(need.file));
  if (still.length > 0) {
    console.error(
      [`test-deps: installed, yet these files needed by ${who} are still missing (has the package moved them?):`, ...still.map((need) => `  ${need.file} (expected from ${need.pkg})`)].join('\n'),
    );
    return 1;
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
