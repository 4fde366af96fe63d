import { join } from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { Code, VifplugClient } from '../../src/client/client';
import { parseListen } from '../../src/api/endpoint';
import { createLogger } from '../../src/common/log';
import { DEFAULT_DAEMON_CONFIG, startDaemon, type Daemon } from '../../src/daemon';
import { tempDir } from '../helpers/server';
import { withTestProviders } from '../helpers/test-providers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serveLater(socket: string, afterMs: number): Promise<Daemon> {
  await new Promise((r) => setTimeout(r, afterMs));
  const daemon = await startDaemon(
    { ...DEFAULT_DAEMON_CONFIG, listen: [parseListen(`unix://${socket}`)], providers: ['dummy'], remoteProviders: undefined },
    { logger: createLogger('silent'), builtins: () => withTestProviders() },
  );
  cleanups.push(() => daemon.stop());
  return daemon;
}

it('retries a safe call while the daemon is starting, within the deadline', async () => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const socket = join(dir.path, 'late.sock');
  const client = new VifplugClient(`unix://${socket}`, { deadlineMs: 5000 });
  cleanups.push(() => client.close());
  const [opened] = await Promise.all([client.open('dummy'), serveLater(socket, 300)]);
  expect(opened.instanceId).not.toBe('');
});

it('does not retry when retries are off, and says UNAVAILABLE', async () => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const client = new VifplugClient(`unix://${join(dir.path, 'none.sock')}`, { maxAttempts: 1, deadlineMs: 2000 });
  cleanups.push(() => client.close());
  await expect(client.open('dummy')).rejects.toMatchObject({ code: Code.UNAVAILABLE, reason: '' });
});
