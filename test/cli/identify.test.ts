/**
 * vifplugctl identify and cards, the compiled program against a real
 * vifplugd on the fake hypervisor of a BlueField: what an operator or a CMS
 * integration reads, as text and as JSON, and its exit codes.
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { FakeHost } from '../helpers/host/fake-host';
import { HYPERVISOR_PF_MAC, layOutHypervisor } from '../helpers/host/layouts';

const CTL = join(__dirname, '..', '..', 'dist', 'cli', 'vifplugctl.js');

let host: FakeHost;
let daemon: Daemon;
beforeAll(async () => {
  host = layOutHypervisor(new FakeHost());
  daemon = await spawnDaemon(['--listen', `unix://${host.dir}/v.sock`, '--sysfs-root', host.sysfsRoot, '--devlink-bin', host.devlinkBin, '--ip-bin', host.ipBin, '--resync-interval', '0']);
});
afterAll(async () => {
  await daemon?.stop('SIGTERM');
  host?.remove();
});

function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CTL, '--socket', `${host.dir}/v.sock`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vifplugctl identify', () => {
  it('prints the PF MAC, VF number, card serial and the lport options a CMS sets', async () => {
    const res = await ctl('identify', '0000:05:00.4');
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe(
      [
        'VF            0000:05:00.4',
        'PF            0000:05:00.0 enp5s0f0',
        `PF MAC        ${HYPERVISOR_PF_MAC}`,
        'VF NUMBER     1',
        'CARD SERIAL   MT2113X00001',
        `LPORT OPTIONS vif-plug:representor:pf-mac=${HYPERVISOR_PF_MAC} vif-plug:representor:vf-num=1`,
        '',
      ].join('\n'),
    );
  });

  it('prints proto3 JSON with --json', async () => {
    const res = await ctl('--json', 'identify', '0000:05:00.6');
    expect(JSON.parse(res.stdout)).toEqual({
      vfPciAddress: '0000:05:00.6',
      pfPciAddress: '0000:05:00.0',
      pfNetdev: 'enp5s0f0',
      pfMacAddress: HYPERVISOR_PF_MAC,
      vfNum: 3,
      cardSerialNumber: 'MT2113X00001',
      lportOptions: { 'vif-plug:representor:pf-mac': HYPERVISOR_PF_MAC, 'vif-plug:representor:vf-num': '3' },
    });
  });

  it('says what is wrong, exit 1, for a PF address; exit 2 without an address', async () => {
    const pf = await ctl('identify', '0000:05:00.0');
    expect(pf.code).toBe(1);
    expect(pf.stderr).toContain('FAILED_PRECONDITION (NOT_A_VF): 0000:05:00.0 is not a VF');
    expect((await ctl('identify')).code).toBe(2);
  });
});

describe('vifplugctl cards', () => {
  it('lists the card and the chassis serial, and why', async () => {
    const res = await ctl('cards');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^SERIAL\s+PART\s+PFS\s+MANAGES HOST\s+CHASSIS\s+NAME\n/);
    expect(res.stdout).toMatch(/^MT2113X00001\s+MBF2H332A-AEEOT\s+0000:05:00.0\s+no\s+yes\s+BlueField-2 DPU/m);
    expect(res.stdout).toContain('chassis card serial: MT2113X00001 (card MT2113X00001 (PF 0000:05:00.0): the only card this host sees)');
  });
});
