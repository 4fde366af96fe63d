import { statSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { VifplugClient } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { tempDir } from '../helpers/server';

let dir: ReturnType<typeof tempDir>;
let d: Daemon;
let client: VifplugClient;
let url: string;
beforeAll(async () => {
  dir = tempDir();
  d = await spawnDaemon(['--listen', `unix://${join(dir.path, 'm.sock')}`, '--providers', 'dummy', '--metrics-listen', '127.0.0.1:0', '--socket-group', '4242']);
  url = d.logs.find((l) => l.msg === 'serving metrics')!.metrics as string;
  client = new VifplugClient(`unix://${join(dir.path, 'm.sock')}`);
});
afterAll(async () => {
  client.close();
  await d.stop();
  dir.remove();
});

async function scrape(): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

function value(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

it('exports the grpc_server_* family with the standard labels, and the live ctxs', async () => {
  const { instanceId } = await client.open('dummy');
  const prepared = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1' });
  await client.finishPort('missing').catch(() => undefined);
  const body = await scrape();
  const prepare = 'grpc_type="unary",grpc_service="vifplug.v1.VifPlug",grpc_method="PreparePort"';
  expect(value(body, `grpc_server_started_total{${prepare}}`)).toBe(1);
  expect(value(body, `grpc_server_handled_total{${prepare},grpc_code="OK"}`)).toBe(1);
  expect(value(body, `grpc_server_msg_received_total{${prepare}}`)).toBe(1);
  expect(value(body, `grpc_server_msg_sent_total{${prepare}}`)).toBe(1);
  expect(value(body, `grpc_server_handling_seconds_count{${prepare}}`)).toBe(1);
  expect(value(body, 'grpc_server_handled_total{grpc_type="unary",grpc_service="vifplug.v1.VifPlug",grpc_method="FinishPort",grpc_code="NotFound"}')).toBe(1);
  expect(value(body, 'vifplug_ctxs')).toBe(1);
  expect(value(body, 'vifplug_ctxs_reaped_total')).toBe(0);
  expect(value(body, 'vifplug_instances')).toBe(1);
  expect(body).toContain('process_cpu_seconds_total');
  await client.destroyCtx(prepared.ctxId);
  expect(value(await scrape(), 'vifplug_ctxs')).toBe(0);
});

it('serves nothing but /metrics', async () => {
  expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
});

it('gives the socket to --socket-group', () => {
  expect(statSync(join(dir.path, 'm.sock')).gid).toBe(4242);
});
