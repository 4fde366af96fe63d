/**
 * The image's health probe (scripts/container/healthcheck.js), against the
 * compiled daemon on this host: what the HEALTHCHECK and the Kubernetes exec
 * probes rely on, without a container.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { ROOT } from './dockerfile';

const PROBE = join(ROOT, 'scripts', 'container', 'healthcheck.js');

interface ProbeModule {
  listenFlags(argv: string[]): string[];
  daemonListen(cmdline: string, env: NodeJS.ProcessEnv): string[] | undefined;
  probeTarget(spec: string, cwd: string): { target?: string; error?: string };
  encodeRequest(service: string): Buffer;
  decodeResponse(buf: Buffer): number;
}
const probe = createRequire(__filename)(PROBE) as ProbeModule;

function runProbe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('where the probe looks', () => {
  it("reads the daemon's --listen flags, in both spellings, also behind an init's `--`", () => {
    const cmdline = (...argv: string[]) => `${argv.join('\0')}\0`;
    expect(probe.daemonListen(cmdline('node', '/app/dist/cli/vifplugd.js', '--listen', 'unix:///a.sock', '--listen=127.0.0.1:7'), {})).toEqual([
      'unix:///a.sock',
      '127.0.0.1:7',
    ]);
    expect(probe.daemonListen(cmdline('/sbin/docker-init', '--', 'node', '/app/dist/cli/vifplugd.js', '--listen', '/b.sock'), {})).toEqual(['/b.sock']);
    expect(probe.daemonListen(cmdline('/usr/local/bin/vifplugd', '--log-level', 'debug'), { VIFPLUG_LISTEN: 'unix:///c.sock, 127.0.0.1:9' })).toEqual([
      'unix:///c.sock',
      '127.0.0.1:9',
    ]);
    // PID 1 is something else (systemd, a shell): not the daemon's flags.
    expect(probe.daemonListen(cmdline('/sbin/init', '--listen', 'x'), {})).toBeUndefined();
  });

  it('dials wildcard listeners on loopback and resolves relative socket paths', () => {
    expect(probe.probeTarget('0.0.0.0:50051', '/')).toEqual({ target: '127.0.0.1:50051' });
    expect(probe.probeTarget('[::]:50051', '/')).toEqual({ target: '[::1]:50051' });
    expect(probe.probeTarget('[fd00::1]:7', '/')).toEqual({ target: '[fd00::1]:7' });
    expect(probe.probeTarget('unix:rel.sock', '/app')).toEqual({ target: 'unix:///app/rel.sock' });
    expect(probe.probeTarget('unix:///run/vifplug/vifplug.sock', '/')).toEqual({ target: 'unix:///run/vifplug/vifplug.sock' });
    expect(probe.probeTarget('/run/x.sock', '/')).toEqual({ target: 'unix:///run/x.sock' });
    expect(probe.probeTarget('127.0.0.1:0', '/').error).toMatch(/random port/);
    expect(probe.probeTarget('nonsense', '/').error).toMatch(/not a listen address/);
  });

  it('encodes the health request and decodes the response as protobuf does', () => {
    expect(probe.encodeRequest('')).toEqual(Buffer.alloc(0));
    expect(probe.encodeRequest('vifplug.v1.VifPlug')).toEqual(Buffer.from([0x0a, 18, ...Buffer.from('vifplug.v1.VifPlug')]));
    expect(probe.decodeResponse(Buffer.from([0x08, 0x01]))).toBe(1);
    expect(probe.decodeResponse(Buffer.alloc(0))).toBe(0);
    // Unknown fields are skipped.
    expect(probe.decodeResponse(Buffer.from([0x12, 0x02, 0x61, 0x62, 0x08, 0x02]))).toBe(2);
  });
});

describe('the probe against a running daemon', () => {
  let dir: string;
  let daemon: Daemon;
  let socket: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifplug-probe-'));
    socket = join(dir, 'vifplug.sock');
    daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'dummy']);
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 when the daemon serves, for the daemon and for vifplug.v1.VifPlug', async () => {
    const whole = await runProbe([`unix://${socket}`]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stdout).toMatch(/SERVING/);
    const service = await runProbe(['--service', 'vifplug.v1.VifPlug', socket]);
    expect(service.code, service.stderr).toBe(0);
  });

  it('finds the socket through VIFPLUG_LISTEN when given no address', async () => {
    const result = await runProbe([], { VIFPLUG_LISTEN: `unix://${socket}` });
    expect(result.code, result.stderr).toBe(0);
  });

  it('exits 1 and says why for an unknown service, a missing socket and a bad flag', async () => {
    const unknown = await runProbe(['--service', 'nope', socket]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
    const missing = await runProbe(['--timeout', '2', `unix://${join(dir, 'missing.sock')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/UNAVAILABLE.*is vifplugd running/);
    const bad = await runProbe(['--timeout', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--timeout/);
  });
});
