import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { DevlinkError, execDevlinkSource } from '../../../src/providers/representor/devlink';
import { devlinkJsonFromText } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';

let host: FakeHost | undefined;
afterEach(() => {
  host?.remove();
  host = undefined;
});

async function failure(promise: Promise<unknown>): Promise<DevlinkError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DevlinkError) return err;
    throw err;
  }
  throw new Error('expected a DevlinkError');
}

describe('execDevlinkSource', () => {
  it('runs `<bin> -j port show` and parses what it prints', async () => {
    host = new FakeHost();
    host.setDevlinkPorts(devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt')));
    const { ports } = await execDevlinkSource({ bin: host.devlinkBin }).readPorts();
    expect(ports.map((p) => p.netdev)).toEqual(['enp8s0f0np0', 'enp8s0f0npf0vf0', 'enp8s0f0npf0vf3', 'enp8s0f0npf0vf1', 'enp8s0f0npf0vf2', 'enp8s0f1np1']);
    expect(host.invocations('devlink')).toEqual([['-j', 'port', 'show']]);
  });

  it.each([
    ['no-netlink', 'no-devlink', /Failed to connect to devlink Netlink/],
    ['garbage', 'bad-json', /not its JSON/],
    ['fail', 'failed', /exited with status 1: devlink answers: Invalid argument/],
  ] as const)('classifies %s as %s', async (behaviour, kind, message) => {
    host = new FakeHost();
    host.setDevlinkBehaviour(behaviour);
    const error = await failure(execDevlinkSource({ bin: host.devlinkBin }).readPorts());
    expect(error.kind).toBe(kind);
    expect(error.message).toMatch(message);
  });

  it('kills a devlink that does not answer in time', async () => {
    host = new FakeHost();
    host.setDevlinkBehaviour('hang');
    const error = await failure(execDevlinkSource({ bin: host.devlinkBin, timeoutMs: 300 }).readPorts());
    expect(error.kind).toBe('timeout');
    expect(error.saysAbsent).toBe(false);
  });

  it('stops reading output beyond its bound', async () => {
    host = new FakeHost();
    host.setDevlinkBehaviour('huge');
    const error = await failure(execDevlinkSource({ bin: host.devlinkBin, maxOutputBytes: 1024 * 1024 }).readPorts());
    expect(error.kind).toBe('output-too-large');
    expect(error.message).toContain('1048576 bytes');
  });

  it('says how to fix a missing executable', async () => {
    host = new FakeHost();
    const error = await failure(execDevlinkSource({ bin: join(host.dir, 'missing', 'devlink') }).readPorts());
    expect(error.kind).toBe('missing');
    expect(error.saysAbsent).toBe(true);
    expect(error.message).toContain('--devlink-bin');
  });

  it('runs the executable without a shell', async () => {
    host = new FakeHost();
    // A shell would expand this; execFile looks for a file of that literal name.
    const error = await failure(execDevlinkSource({ bin: `${host.devlinkBin}; touch ${join(host.dir, 'pwned')}` }).readPorts());
    expect(error.kind).toBe('missing');
    expect(host.invocations('devlink')).toEqual([]);
  });
});
