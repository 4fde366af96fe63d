import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { MAX_LINE_BYTES, ProcessMonitor, iproute2Monitors } from '../../../src/providers/representor/monitor';
import { FakeHost } from '../../helpers/host/fake-host';
import { captureLogger } from './harness';
import { isRunning, PROCESS_WAIT } from '../../helpers/processes';

let host: FakeHost | undefined;
const monitors: ProcessMonitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.stop()));
  host?.remove();
  host = undefined;
});

function devlinkMonitor(h: FakeHost, bin = h.devlinkBin) {
  const { logger, lines } = captureLogger();
  const counts = { events: 0, restarts: 0 };
  const command = iproute2Monitors({ devlinkBin: bin, ipBin: h.ipBin })[0]!;
  expect(command.name).toBe('devlink monitor');
  const monitor = new ProcessMonitor(command, {
    onEvent: () => counts.events++,
    onRestart: () => counts.restarts++,
    logger,
    restartDelayMs: 20,
  });
  monitors.push(monitor);
  return { monitor, counts, lines };
}

describe('ProcessMonitor', () => {
  it('reports port lines and ignores continuation lines', async () => {
    host = new FakeHost();
    const { monitor, counts } = devlinkMonitor(host);
    monitor.start();
    await vi.waitFor(() => expect(host!.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    host.emitDevlinkEvent('  function:');
    host.emitDevlinkEvent('    hw_addr 00:00:00:00:00:00 state inactive opstate detached');
    host.emitDevlinkEvent('[port,new] pci/0000:08:00.0/32768: type eth flavour pcisf controller 0 pfnum 0 sfnum 107');
    await vi.waitFor(() => expect(counts.events).toBe(1), PROCESS_WAIT);
    expect(monitor.state).toBe('running');
    expect(host.invocations('devlink')).toEqual([['monitor', 'port']]);
  });

  it('drops an over-long line without keeping it, counting it as a change', async () => {
    host = new FakeHost();
    const { monitor, counts } = devlinkMonitor(host);
    monitor.start();
    await vi.waitFor(() => expect(host!.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    host.emitDevlinkEvent('x'.repeat(MAX_LINE_BYTES * 3));
    await vi.waitFor(() => expect(counts.events).toBeGreaterThanOrEqual(1), PROCESS_WAIT);
    const before = counts.events;
    // The tail of the long line is discarded, then normal lines count again.
    host.emitDevlinkEvent('[port,del] pci/0000:08:00.0/32768: type notset flavour pcisf');
    await vi.waitFor(() => expect(counts.events).toBe(before + 1), PROCESS_WAIT);
  });

  it('restarts a child that dies, and says so', async () => {
    host = new FakeHost();
    const { monitor, counts, lines } = devlinkMonitor(host);
    monitor.start();
    await vi.waitFor(() => expect(host!.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    process.kill(host.monitorPids('devlink')[0]!, 'SIGKILL');
    await vi.waitFor(() => expect(counts.restarts).toBe(1), PROCESS_WAIT);
    await vi.waitFor(() => expect(host!.monitorPids('devlink')).toHaveLength(2), PROCESS_WAIT);
    expect(monitor.state).toBe('running');
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^devlink monitor was killed by SIGKILL; restarting in \d+ ms$/));
  });

  it('gives up for good when the executable is missing', async () => {
    host = new FakeHost();
    const { monitor, lines } = devlinkMonitor(host, join(host.dir, 'nope'));
    monitor.start();
    await vi.waitFor(() => expect(monitor.state).toBe('given-up'), PROCESS_WAIT);
    expect(lines.filter((l) => l.msg.includes('not found'))).toHaveLength(1);
  });

  it('gives up for good when the kernel has no devlink', async () => {
    host = new FakeHost();
    host.setDevlinkBehaviour('no-netlink');
    const { monitor } = devlinkMonitor(host);
    monitor.start();
    await vi.waitFor(() => expect(monitor.state).toBe('given-up'), PROCESS_WAIT);
    expect(host.invocations('devlink')).toHaveLength(1);
  });

  it('stops its child', async () => {
    host = new FakeHost();
    const { monitor } = devlinkMonitor(host);
    monitor.start();
    await vi.waitFor(() => expect(host!.monitorPids('devlink')).toHaveLength(1), PROCESS_WAIT);
    const pid = host.monitorPids('devlink')[0]!;
    await monitor.stop();
    expect(isRunning(pid)).toBe(false);
    expect(monitor.state).toBe('stopped');
  });
});
