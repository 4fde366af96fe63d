import { spawn } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { parseAgentArgs } from '../../src/cli/vifplug-ovn';
import { AGENT } from './harness';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [AGENT, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vifplug-ovn flags', () => {
  it('reads flags, then VIFPLUG_OVN_* variables, then defaults (OVS_RUNDIR as ovs-vsctl does)', () => {
    const cmd = parseAgentArgs([], { VIFPLUG_OVN_TYPES: 'representor, dummy', VIFPLUG_OVN_SOCKET: '/x/v.sock', OVS_RUNDIR: '/ignored-here' });
    expect(cmd).toMatchObject({ kind: 'run', config: { types: new Map([['representor', 'representor'], ['dummy', 'dummy']]), connection: { socket: '/x/v.sock' }, sbDb: undefined, statusSocket: '/run/vifplug-ovn/vifplug-ovn.sock', logLevel: 'info' } });
    const flags = parseAgentArgs(['--types', 'dummy', '--ovs-db', 'tcp:127.0.0.1:6640', '--ovn-sb-db', 'ssl:10.0.0.1:6642,ssl:10.0.0.2:6642', '--private-key', 'k', '--certificate', 'c', '--ca-cert', 'ca', '--addr', '127.0.0.1:50051'], {
      VIFPLUG_OVN_TYPES: 'representor',
    });
    expect(flags).toMatchObject({
      kind: 'run',
      config: { types: new Map([['dummy', 'dummy']]), ovsDb: 'tcp:127.0.0.1:6640', sbDb: 'ssl:10.0.0.1:6642,ssl:10.0.0.2:6642', tls: { privateKey: 'k', certificate: 'c', caCert: 'ca' }, connection: { addr: '127.0.0.1:50051' } },
    });
    expect(parseAgentArgs(['--types', 'vifplug-representor=representor'], {})).toMatchObject({ config: { types: new Map([['vifplug-representor', 'representor']]) } });
    expect(parseAgentArgs(['status', '--json'], {})).toEqual({ kind: 'status', statusSocket: '/run/vifplug-ovn/vifplug-ovn.sock', json: true });
  });

  it('reads --repair (alone, or beside --types) and --plug-additional, from flags or VIFPLUG_OVN_REPAIR and VIFPLUG_OVN_PLUG_ADDITIONAL', () => {
    expect(parseAgentArgs(['--repair', 'representor'], {})).toMatchObject({ config: { types: new Map(), repair: new Map([['representor', 'representor']]), plugAdditional: false } });
    expect(parseAgentArgs([], { VIFPLUG_OVN_REPAIR: 'representor', VIFPLUG_OVN_TYPES: 'vhost', VIFPLUG_OVN_PLUG_ADDITIONAL: 'yes' })).toMatchObject({
      config: { types: new Map([['vhost', 'vhost']]), repair: new Map([['representor', 'representor']]), plugAdditional: true },
    });
    expect(parseAgentArgs(['--repair', 'dummy=representor', '--types', 'representor', '--plug-additional'], {})).toMatchObject({
      config: { types: new Map([['representor', 'representor']]), repair: new Map([['dummy', 'representor']]), plugAdditional: true },
    });
  });

  it.each([
    [[], '--types or --repair is required'],
    [['--types', 'representor', '--repair', 'dummy,representor'], '--types and --repair both name representor'],
    [['--repair', 'a b'], '--repair: "a b" is not TYPE or TYPE=PROVIDER'],
    [['--repair', ''], '--repair: the list is empty'],
    [['--types', 'a b'], 'is not TYPE or TYPE=PROVIDER'],
    [['--types', 'a=b=c'], 'is not TYPE or TYPE=PROVIDER'],
    [['--types', 'dummy,dummy=x'], 'listed twice'],
    [['--types', 'dummy', '--ovs-db', 'db.sock'], '--ovs-db'],
    [['--types', 'dummy', '--ovn-sb-db', 'tcp:1.2.3.4:6642,'], '--ovn-sb-db'],
    [['--types', 'dummy', '--ovn-sb-db', 'ssl:1.2.3.4:6642'], 'needs --private-key, --certificate and --ca-cert'],
    [['--types', 'dummy', '--private-key', 'k'], 'go together'],
    [['--types', 'dummy', '--socket', 'a', '--addr', 'b:1'], 'not both'],
    [['--types', 'dummy', '--log-level', 'loud'], '--log-level'],
    [['--types', 'dummy', '--metrics-listen', 'unix:///run/m.sock'], '--metrics-listen "unix:///run/m.sock" is not HOST:PORT, e.g. 127.0.0.1:9100'],
    [['--types', 'dummy', '--metrics-listen', '9100'], '--metrics-listen "9100" is a port alone; give HOST:PORT, e.g. 127.0.0.1:9100'],
    [['--types', 'dummy', '--socket', 'tcp://10.0.0.5:50051'], '--socket "tcp://10.0.0.5:50051" is not a unix socket path such as /run/vifplug/vifplug.sock or unix:///run/vifplug/vifplug.sock; for a TCP address use --addr HOST:PORT'],
    [['--types', 'dummy', '--log-format', 'pretty'], '--log-format "pretty" is not one of text, json'],
    [['--types', 'dummy', '--nope'], "Unknown option '--nope'"],
    [['stats'], 'unexpected argument "stats"'],
  ])('refuses %j with a clear message and exit 2', async (args, message) => {
    const res = await run(args);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(res.stderr).toContain("Try 'vifplug-ovn --help'");
  });

  it('prints help and version; status without a running agent says how to fix it (exit 1)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--socket', '--addr', '--tls-ca', '--ovs-db', '--ovn-sb-db', '--types', '--repair', '--plug-additional', '--log-level', '--metrics-listen', 'VIFPLUG_OVN_TYPES', 'VIFPLUG_OVN_REPAIR']) {
      expect(help.stdout).toContain(flag);
    }
    expect((await run(['--version'])).stdout).toMatch(/^vifplug-ovn \d/);
    const status = await run(['status', '--status-socket', '/tmp/no-such-agent.sock']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('is vifplug-ovn running with this --status-socket?');
  });
});
