/**
 * A host with 64 PFs x 256 VFs (16,384 representors): the index builds and
 * answers, from devlink and from sysfs alone. Correctness only; timing belongs
 * to the benchmark (generateLargeHost in test/helpers/fake-host.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FakeHost } from '../../helpers/host/fake-host';
import { tmpDirWithRoom } from '../../helpers/host/sysfs-tree';
import { generateLargeHost, largeHostRoom, type LargeHost } from '../../helpers/host/layouts';
import { select, startProvider, type Harness } from './harness';

let host: FakeHost;
let large: LargeHost;

beforeAll(() => {
  // ~130k inodes and, a page per file, ~650 MiB of temp space: said up front, and placed where there is room.
  host = new FakeHost(largeHostRoom(64, 256));
  large = generateLargeHost(host, 64, 256);
}, 120_000);

afterAll(() => host?.remove(), 120_000);

const samples = [
  [0, 0],
  [0, 255],
  [1, 17],
  [31, 128],
  [63, 0],
  [63, 255],
] as const;

async function checkAnswers(h: Harness): Promise<void> {
  for (const [pf, vf] of samples) {
    expect(await h.netdevFor(select(large.pfs[pf]!.mac, { vf }))).toBe(large.repName(pf, vf));
  }
  const miss = await h.errorFor(select(large.pfs[5]!.mac, { vf: 256 }));
  expect(miss.message).toContain(`under pci/${large.pfs[5]!.bdf}`);
  expect(miss.message).toMatch(/present: 0-255$/);
  const list = await h.list();
  expect(list).toHaveLength(64 + 64 * 256);
  expect(list.filter((r) => r.lportOptions.size > 0)).toHaveLength(64 * 256);
}

describe('64 PFs x 256 VFs', () => {
  it('builds from devlink and answers, reading sysfs only for the uplinks', async () => {
    const h = await startProvider(host);
    try {
      await checkAnswers(h);
      expect(await h.run()).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('builds from sysfs alone when devlink is unavailable', async () => {
    host.setDevlinkBehaviour('no-netlink');
    const h = await startProvider(host);
    try {
      await checkAnswers(h);
      expect((await h.list()).every((r) => r.source === 'sysfs')).toBe(true);
    } finally {
      await h.close();
      host.setDevlinkBehaviour('ok');
    }
  });
});

describe('room for the fake host', () => {
  it('is asked of the temp dirs up front, and a host no temp dir can hold says what it needs and what each has', () => {
    const room = largeHostRoom(64, 256);
    expect(room.entries).toBeGreaterThan(130_000);
    expect(() => tmpDirWithRoom({ files: 2 ** 40, entries: 2 ** 41 })).toThrow(/needs about \d+ MiB and \d+ inodes in a temp dir, a page each: .* has \d+ MiB and/);
  });
});
