/**
 * The hardware seam on a bad day: devlink hanging in a wrapper that forks,
 * printing more than any host would, failing now and then; monitors dying as
 * they start; the daemon killed by SIGKILL; a sysfs that cannot be read or
 * holds loops and oversized attributes. Each is made with the iproute2
 * stand-in and a real directory tree.
 */

import { realpathSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { execDevlinkSource } from '../../../src/providers/representor/devlink';
import { nodeSysfs } from '../../../src/providers/representor/sysfs';
import { isPlugError } from '../../../src/registry/errors';
import { spawnDaemon } from '../../helpers/daemon';
import { devlinkJsonFromText, type DevlinkJson } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';
import { layOutDevlinkHost } from '../../helpers/host/layouts';
import { isRunning, PROCESS_WAIT, processesWith } from '../../helpers/processes';
import { DPU_HOST_PF_MAC, dpuHost, select, startProvider, type Harness } from './harness';

let host: FakeHost | undefined;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  host?.remove();
  host = undefined;
});

const HOST_PF_MAC = DPU_HOST_PF_MAC;

/** The DPU of dpuHost(), removed after the test. */
function dpu(): { host: FakeHost; json: DevlinkJson } {
  const made = dpuHost();
  host = made.host;
  return made;
}

const messages = (h: Harness): string[] => h.logs.map((l) => l.msg);

describe('devlink children never outlive their purpose', () => {
  it('kills a timed-out devlink together with what its wrapper forked', async () => {
    host = new FakeHost();
    host.setDevlinkBehaviour('fork-and-hang');
    const reading = execDevlinkSource({ bin: host.devlinkBin, timeoutMs: 1_500 }).readPorts();
    await expect(reading).rejects.toMatchObject({ kind: 'timeout', message: expect.stringContaining('killed it and its process group') });
    expect(host.forkedPids()).toHaveLength(1);
    await vi.waitFor(() => expect(host!.forkedPids().filter(isRunning)).toEqual([]), PROCESS_WAIT);
    expect(processesWith(host.devlinkBin)).toEqual([]);
  });

  it('leaves no monitor, forked helper or supervisor behind when the daemon is killed with SIGKILL', async () => {
    const { host: h } = dpu();
    h.setBehaviour('devlink-monitor', 'fork-and-follow');
    h.setBehaviour('ip-monitor', 'fork-and-follow');
    const daemon = await spawnDaemon(['--listen', `unix://${h.dir}/v.sock`, '--sysfs-root', h.sysfsRoot, '--devlink-bin', h.devlinkBin, '--ip-bin', h.ipBin]);
    try {
      await vi.waitFor(() => {
        expect(h.monitorPids('devlink')).toHaveLength(1);
        expect(h.monitorPids('ip')).toHaveLength(1);
        expect(h.forkedPids()).toHaveLength(2);
      }, PROCESS_WAIT);
      const children = [...h.monitorPids('devlink'), ...h.monitorPids('ip'), ...h.forkedPids()];
      expect(children.filter(isRunning)).toHaveLength(4);
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      await vi.waitFor(() => expect(children.filter(isRunning)).toEqual([]), { timeout: 5_000 });
      // Nothing else started for this host survives either (the supervising shells included: a
      // shell kills its command's group and then exits, a moment after the group is gone).
      await vi.waitFor(() => expect(processesWith(h.dir)).toEqual([]), { timeout: 5_000 });
    } finally {
      await daemon.stop('SIGKILL');
    }
  });
});

describe('oversize, garbage and intermittent devlink', () => {
  it('refuses an output over the documented limit, keeps the last good view and says why', async () => {
    const { host: h } = dpu();
    harness = await startProvider(h, { devlinkTimeoutMs: 30_000 });
    const before = await harness.list();
    h.setDevlinkBehaviour('huge');
    expect(await harness.run()).toBe(false);
    expect(await harness.list()).toEqual(before);
    expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 1 }))).toBe('pf0vf1');
    const failing = harness.logs.filter((l) => l.msg.startsWith('representor refresh failing:'));
    expect(failing).toHaveLength(1);
    expect(failing[0]!.msg).toContain(`printed more than ${16 * 1024 * 1024} bytes (the limit for one reading)`);
    expect(failing[0]).toMatchObject({ cause: 'devlink output-too-large' });
  });

  it('does not read sysfs for a view it keeps the last good one instead of (without devlink, every netdev)', async () => {
    const { host: h } = dpu();
    const real = nodeSysfs();
    const touched: string[] = [];
    const counting = {
      read: (path: string, maxBytes: number) => (touched.push(path), real.read(path, maxBytes)),
      readlink: (path: string) => (touched.push(path), real.readlink(path)),
      readdir: (path: string) => (touched.push(path), real.readdir(path)),
    };
    harness = await startProvider(h, { fs: counting });
    expect(touched.length).toBeGreaterThan(0);
    touched.length = 0;
    h.setDevlinkBehaviour('garbage');
    expect(await harness.run()).toBe(false);
    expect(harness.logs.some((l) => l.msg.startsWith('representor refresh failing:'))).toBe(true);
    expect(touched).toEqual([]);
    expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 1 }))).toBe('pf0vf1');
  });

  it('never flips an answer while "Failed to connect to devlink Netlink" comes and goes', async () => {
    const { host: h } = dpu();
    harness = await startProvider(h, { devlinkTimeoutMs: 10_000 });
    h.setDevlinkBehaviour('flaky-netlink');
    const dumps = h.portDumps();
    for (let i = 0; i < 8; i++) {
      harness.clock.advance(61_000);
      await harness.run();
      expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 0 }))).toBe('pf0vf0');
      expect((await harness.list()).every((r) => r.source === 'devlink')).toBe(true);
    }
    expect(h.portDumps() - dumps).toBeGreaterThanOrEqual(8);
    // Each appearance and end is logged, at most once a minute: here the clock moved a minute each time.
    expect(messages(harness).filter((m) => m.startsWith('devlink unavailable'))).toEqual([]);
    expect(messages(harness).filter((m) => m.startsWith('representor refresh failing:')).length).toBeLessThanOrEqual(4);
  });

  it('throttles the log of a failure that keeps coming back within a minute', async () => {
    const { host: h } = dpu();
    harness = await startProvider(h, { devlinkTimeoutMs: 10_000 });
    h.setDevlinkBehaviour('flaky-netlink');
    for (let i = 0; i < 10; i++) {
      harness.clock.advance(1_500);
      await harness.run();
      expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 0 }))).toBe('pf0vf0');
    }
    expect(messages(harness).filter((m) => m.startsWith('representor refresh failing:'))).toHaveLength(1);
    expect(messages(harness).filter((m) => m.startsWith('representor refresh works again'))).toHaveLength(1);
    harness.clock.advance(60_000);
    for (let i = 0; i < 4; i++) {
      harness.clock.advance(1_500);
      await harness.run();
    }
    const again = messages(harness).filter((m) => m.startsWith('representor refresh failing:'));
    expect(again).toHaveLength(2);
    expect(again[1]).toMatch(/it came back \d+ more times since the last report/);
  });

  it('answers NOT_FOUND rather than guess when devlink prints garbage from the start, and heals once it answers', async () => {
    const { host: h } = dpu();
    h.setDevlinkBehaviour('garbage');
    harness = await startProvider(h, { devlinkTimeoutMs: 10_000 });
    const error = await harness.errorFor(select(HOST_PF_MAC, { vf: 0 }));
    expect(error.reason).toBe('REPRESENTOR_NOT_FOUND');
    h.setDevlinkBehaviour('ok');
    harness.clock.advance(1_000);
    await harness.run();
    expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 0 }))).toBe('pf0vf0');
  });
});

describe('monitors crash-looping', () => {
  it('restarts them with backoff, logging the first death, and keeps answering', async () => {
    const { host: h } = dpu();
    h.setBehaviour('devlink-monitor', 'crash-loop');
    h.setBehaviour('ip-monitor', 'crash-loop');
    harness = await startProvider(h, { monitors: true, monitorRestartMs: 20 });
    await vi.waitFor(() => expect(h.invocations('ip').length).toBeGreaterThanOrEqual(4), { timeout: 10_000 });
    expect(await harness.netdevFor(select(HOST_PF_MAC, { vf: 1 }))).toBe('pf0vf1');
    expect(messages(harness).filter((m) => m.startsWith('ip link monitor exited with status 1'))).toHaveLength(1);
    expect(messages(harness).filter((m) => m.startsWith('devlink monitor exited with status 1'))).toHaveLength(1);
  });
});

describe('diagnostics', () => {
  it('logs dropped attributes once per cause, with the count held back', async () => {
    const { host: h, json } = dpu();
    json.port['pci/0000:03:00.0/196609']!.vfnum = 'zero' as unknown as number;
    json.port['pci/0000:03:00.0/196610']!.vfnum = 70_000;
    h.setDevlinkPorts(json);
    harness = await startProvider(h);
    const dropped = () => harness!.logs.filter((l) => l['cause'] === 'devlink vfnum malformed');
    expect(dropped()).toHaveLength(1);
    expect(dropped()[0]!.msg).toBe(
      'devlink port pci/0000:03:00.0/196609: vfnum "zero" is not an integer in 0..65535; the attribute is ignored (and 1 more like it in this refresh)',
    );
    await harness.run();
    await harness.run();
    expect(dropped()).toHaveLength(1);
    harness.clock.advance(60_000);
    await harness.run();
    expect(dropped()).toHaveLength(2);
    expect(dropped()[1]).toMatchObject({ count: 2, suppressed: 4 });
    expect(dropped()[1]!.msg).toContain('; 4 more in refreshes since the last report');
  });

  it('says what the OS said when class/net cannot be read, instead of "not laid out like /sys"', async () => {
    host = new FakeHost();
    const real = nodeSysfs();
    const denied = {
      ...real,
      readdir: async (path: string) => {
        if (path.endsWith(join('class', 'net'))) throw Object.assign(new Error(`EACCES: permission denied, scandir '${path}'`), { code: 'EACCES' });
        return real.readdir(path);
      },
    };
    const failure = await startProvider(host, { fs: denied }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain('EACCES: permission denied');
    expect(message).toContain('may not read it');
    expect(message).not.toContain('not laid out like /sys');
    expect(isPlugError(failure)).toBe(false);
  });

  it('logs a netdev skipped for a looping device link and an attribute too large to be sysfs', async () => {
    host = new FakeHost();
    const json = devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt'));
    layOutDevlinkHost(host, json);
    host.setDevlinkBehaviour('no-netlink');
    // An uplink whose device link points at itself: reading through it fails with ELOOP.
    const dir = realpathSync(join(host.sysfsRoot, 'class', 'net', 'enp8s0f1np1'));
    unlinkSync(join(dir, 'device'));
    symlinkSync('device', join(dir, 'device'));
    host.setAttribute('enp8s0f0npf0vf1', 'phys_switch_id', 'f'.repeat(5000));
    harness = await startProvider(host);
    const causes = harness.logs.map((l) => l['cause']);
    expect(causes).toContain('sysfs netdev unreadable (ELOOP)');
    expect(causes).toContain('sysfs attribute too large');
    expect(messages(harness).find((m) => m.includes('enp8s0f1np1'))).toMatch(/ELOOP/);
  });
});

