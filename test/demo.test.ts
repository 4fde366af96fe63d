import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { VifplugClient } from '../src/client/client';
import { OpType } from '../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from './helpers/daemon';
import { tempDir } from './helpers/server';

// The demo host shipped in demo/, started with the flags of `npm run demo`.
const DEMO = join(__dirname, '..', 'demo');

let dir: ReturnType<typeof tempDir>;
let daemon: Daemon;
let client: VifplugClient;
let instanceId: string;
beforeAll(async () => {
  dir = tempDir();
  daemon = await spawnDaemon([
    '--listen', `unix://${dir.path}/demo.sock`,
    '--sysfs-root', join(DEMO, 'dpu', 'sys'),
    '--devlink-bin', join(DEMO, 'dpu', 'bin', 'devlink'),
    '--ip-bin', join(DEMO, 'dpu', 'bin', 'ip'),
  ]);
  client = new VifplugClient(`unix://${dir.path}/demo.sock`);
  instanceId = (await client.open('representor')).instanceId;
});
afterAll(async () => {
  client.close();
  await daemon.stop();
  dir.remove();
});

const lookup = async (options: Record<string, string>) =>
  (await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'demo', lportOptions: new Map(Object.entries(options)) })).name;

it('shows a DPU with two hosts PFs, their VFs and a local sub-function, through devlink', async () => {
  const { representors } = await client.listRepresentors();
  expect(representors.filter((r) => r.source === 'devlink').map((r) => r.netdev)).toEqual([
    'p0', 'pf0hpf', 'pf0vf0', 'pf0vf1', 'pf0vf2', 'pf0vf3', 'en3f0pf0sf88', 'p1', 'pf1hpf', 'pf1vf0', 'pf1vf1',
  ]);
});

it('answers the lookups the demo README shows', async () => {
  expect(await lookup({ 'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:dc', 'vif-plug:representor:vf-num': '2' })).toBe('pf0vf2');
  expect(await lookup({ 'vif-plug:representor:pf-mac': 'B8:3F:D2:E1:8F:DD' })).toBe('pf1hpf');
  expect(await lookup({ 'vif-plug:representor:pf-mac': '0c:42:a1:58:ac:28', 'vif-plug:representor:sf-num': '88' })).toBe('en3f0pf0sf88');
  await expect(lookup({ 'vif-plug:representor:pf-mac': 'b8:3f:d2:e1:8f:dc', 'vif-plug:representor:vf-num': '9' })).rejects.toMatchObject({
    reason: 'REPRESENTOR_NOT_FOUND',
  });
});
