/**
 * serveProvider's own options: a registration backoff that makes no sense is
 * refused with a message that names the option, before anything is served.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { serveProvider } from '../../src/sdk';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.remove());

describe('serveProvider options', () => {
  it('refuses a negative or non-numeric register.maxBackoffMs, naming it, and serves nothing', async () => {
    dir = tempDir('vifplug-sdk-');
    const socket = join(dir.path, 'p.sock');
    for (const maxBackoffMs of [-1, Number.NaN]) {
      await expect(
        serveProvider({ type: 'p', preparePort: () => ({ plug: true, out: { name: 'x', type: '', ifaceOptions: new Map() } }) }, { socket, register: { daemon: 'unix:///nonexistent.sock', maxBackoffMs } }),
      ).rejects.toThrow(/register\.maxBackoffMs must be 0 or more milliseconds/);
    }
    expect(existsSync(socket)).toBe(false);
  });
});
