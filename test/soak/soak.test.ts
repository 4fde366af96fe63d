import { expect, it } from 'vitest';

import { soak } from './soak';

// CI runs a short soak; `npm run soak` runs the full one (200,000 cycles, 64
// clients) through the same code and prints the report.
const full = process.env.VIFPLUG_SOAK === 'full';
const options = full
  ? { cycles: 200_000, clients: 64, disconnectRate: 0.002, ctxTtlSeconds: 5 }
  : { cycles: 4_000, clients: 16, disconnectRate: 0.01, ctxTtlSeconds: 1 };

it(
  `${options.cycles} prepare/finish/destroy cycles from ${options.clients} clients with random disconnects leak nothing`,
  async () => {
    const report = await soak(options);
    console.log(`soak report: ${JSON.stringify(report, null, 2)}`);
    expect(report.unexpected).toEqual([]);
    expect(report.disconnects).toBeGreaterThan(0);
    expect(report.ctxsAtEnd).toBe(0);
    // Memory stays bounded: after the first tenth (warm-up), the heap kept does not grow with the cycles.
    const [warm, ...rest] = report.heapSeriesMiB;
    expect(Math.max(...rest)).toBeLessThan(warm! + 4);
  },
  full ? 3_600_000 : 120_000,
);
