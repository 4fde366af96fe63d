import { join } from 'node:path';

import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../helpers/server';

// A client built at run time from the .proto files alone, as a controller in
// another language would build one: no code of this project is involved.
type Callback = (err: ServiceError | null, res: Record<string, unknown>) => void;
// Note: on such a stub `close` is the Close RPC; the channel closes through getChannel().
type Stub = Record<string, (req: object, cb: Callback) => void> & { getChannel(): { close(): void } };

let t: TestServer;
let stub: Stub;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
  const protoDir = join(__dirname, '..', '..', 'proto');
  const definition = loadSync(join(protoDir, 'vifplug', 'v1', 'vifplug.proto'), { includeDirs: [protoDir], keepCase: true, enums: String, defaults: true });
  const pkg = loadPackageDefinition(definition) as unknown as { vifplug: { v1: { VifPlug: new (target: string, creds: unknown) => Stub } } };
  stub = new pkg.vifplug.v1.VifPlug(t.target, credentials.createInsecure());
});
afterAll(async () => {
  stub.getChannel().close();
  await t.stop();
});

const call = (method: string, req: object) =>
  new Promise<Record<string, unknown>>((resolve, reject) => stub[method]!(req, (err, res) => (err ? reject(err) : resolve(res))));

it('plugs a port through the proto alone', async () => {
  const { instance_id } = await call('Open', { type: 'dummy' });
  const prepared = await call('PreparePort', {
    instance_id,
    op_type: 'OP_TYPE_CREATE',
    lport_name: 'a-rather-long-lport-name',
    lport_options: { 'vif-plug-type': 'dummy' },
  });
  expect(prepared).toMatchObject({ plug: true, name: 'a-rather-long-l', type: 'internal', iface_options: { 'plug-dummy-option': 'value' } });
  await call('FinishPort', { ctx_id: prepared.ctx_id });
  await call('DestroyCtx', { ctx_id: prepared.ctx_id });
  await expect(call('FinishPort', { ctx_id: prepared.ctx_id })).rejects.toMatchObject({ code: 5 });
});
