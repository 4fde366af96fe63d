#!/usr/bin/env node
// Installs the Debian packages the tests drive for real (OVN and OVS daemons,
// Python's gRPC for the example provider) when any of them is missing, so that
// `npm test` on a fresh Debian machine needs nothing else. Each package is
// probed by a file it installs; nothing is done when all are present.
//
// Only root on a Debian-like system with apt-get installs; anyone else is told
// what to install and the tests that need it fail with the same advice.
//
// Installing OVS/OVN on a host whose init system starts services would start
// the system's OVS and OVN: the tests never use those (they run their own
// daemons under a temporary directory), but a developer's machine may not want
// them. Set VIFPLUG_TEST_DEPS=skip to install nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian package -> a file it installs. */
export const PACKAGES = {
  'openvswitch-switch': '/usr/sbin/ovs-vswitchd',
  'ovn-central': '/usr/bin/ovn-northd',
  'ovn-host': '/usr/bin/ovn-controller',
  'python3-grpcio': '/usr/lib/python3/dist-packages/grpc/__init__.py',
  'python3-grpc-tools': '/usr/lib/python3/dist-packages/grpc_tools/protoc.py',
  // The README's Python example is generated with protoc 3.15+ (proto3 optional) and gRPC's Python plugin.
  'protobuf-compiler': '/usr/bin/protoc',
  'protobuf-compiler-grpc': '/usr/bin/grpc_python_plugin',
};

function main() {
  if (process.env.VIFPLUG_TEST_DEPS === 'skip') return 0;
  const missing = Object.entries(PACKAGES)
    .filter(([, probe]) => !existsSync(probe))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return 0;
  const install = `apt-get install -y ${missing.join(' ')}`;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (process.getuid?.() !== 0 || !hasApt) {
    console.error(`test-deps: the tests need ${missing.join(', ')}; install them (${install}) and run again`);
    return 1;
  }
  console.error(`test-deps: installing ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) {
      console.error(`test-deps: apt-get ${args.join(' ')} failed; is a Debian mirror reachable? Install by hand: ${install}`);
      return 1;
    }
  }
  return 0;
}

process.exitCode = main();
