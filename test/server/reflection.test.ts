import { join } from 'node:path';

import { Client, Metadata, credentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { clone, create, createFileRegistry, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ReflectionClient, descriptorSet, mapEntryProblems, type ReflectionVersion } from '../helpers/reflection-client';
import { startTestServer, type TestServer } from '../helpers/server';

const SERVICES = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
  'vifplug.v1.VifPlug',
];

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ providers: ['dummy'] });
});
afterAll(async () => t.stop());

describe.each<ReflectionVersion>(['v1', 'v1alpha'])('server reflection %s, used the way grpcurl uses it', (version) => {
  let reflection: ReflectionClient;
  beforeAll(() => {
    reflection = new ReflectionClient(t.target, version);
  });
  afterAll(() => reflection.close());

  it('lists every served service', async () => {
    expect((await reflection.listServices()).sort()).toEqual(SERVICES);
  });

  it('serves descriptors a strict validator accepts, with map entries and imports intact', async () => {
    // grpcurl also resolves google.rpc.* when it prints an error's details.
    const files = await reflection.resolve([...SERVICES, 'google.rpc.Status', 'google.rpc.ErrorInfo', 'google.rpc.BadRequest']);
    // Two strict validators: createFileRegistry resolves every reference and
    // import; mapEntryProblems checks the map-entry rules grpcurl enforces.
    const registry = createFileRegistry(descriptorSet(files));
    expect(mapEntryProblems(files)).toEqual([]);

    const prepare = registry.getMessage('vifplug.v1.PreparePortRequest')!;
    expect(prepare.fields.find((f) => f.name === 'lport_options')?.fieldKind).toBe('map');
    expect(registry.getMessage('vifplug.v1.PreparePortResponse')!.fields.find((f) => f.name === 'iface_options')?.fieldKind).toBe('map');
    expect(registry.getMessage('grpc.health.v1.HealthListResponse')!.fields[0]!.fieldKind).toBe('map');

    const status = files.find((f) => f.name === 'google/rpc/status.proto')!;
    expect(status.dependency).toEqual(['google/protobuf/any.proto']);
    expect(files.map((f) => f.name)).toContain('google/protobuf/any.proto');
    // Every RPC is resolvable, and the proto's documentation comes along for `grpcurl describe`.
    const service = registry.getService('vifplug.v1.VifPlug')!;
    expect(service.methods.map((m) => m.name)).toEqual([
      'Register',
      'Unregister',
      'ListProviders',
      'Open',
      'Close',
      'Run',
      'PreparePort',
      'FinishPort',
      'DestroyCtx',
      'ListRepresentors',
      'Identify',
      'ListCards',
      'PreparePorts',
      'FinishPorts',
      'DestroyCtxs',
      'Watch',
    ]);
    const api = files.find((f) => f.name === 'vifplug/v1/vifplug.proto')!;
    expect(api.sourceCodeInfo?.location.some((l) => l.leadingComments.includes('Idempotent'))).toBe(true);
  });

  it('resolves methods and fields by their full names, and says NOT_FOUND for unknown ones', async () => {
    const [method, field, unknown, noFile] = await reflection.ask([
      { host: '', messageRequest: { $case: 'fileContainingSymbol', value: 'vifplug.v1.VifPlug.PreparePort' } },
      { host: '', messageRequest: { $case: 'fileContainingSymbol', value: 'vifplug.v1.PreparePortRequest.lport_options' } },
      { host: '', messageRequest: { $case: 'fileContainingSymbol', value: 'vifplug.v1.Nope' } },
      { host: '', messageRequest: { $case: 'fileByFilename', value: 'nope.proto' } },
    ]);
    expect(method?.messageResponse?.$case).toBe('fileDescriptorResponse');
    expect(field?.messageResponse?.$case).toBe('fileDescriptorResponse');
    for (const answer of [unknown, noFile]) {
      expect(answer?.messageResponse?.$case === 'errorResponse' && answer.messageResponse.value.errorCode).toBe(5);
    }
  });

  it('is all a client needs to call an RPC with map fields', async () => {
    const registry = createFileRegistry(descriptorSet(await reflection.resolve(['vifplug.v1.VifPlug'])));
    const service = registry.getService('vifplug.v1.VifPlug')!;
    const raw = new Client(t.target, credentials.createInsecure());
    const call = (name: string, init: Record<string, unknown>) => {
      const method = service.methods.find((m) => m.name === name)!;
      return new Promise<Record<string, unknown>>((resolve, reject) => {
        raw.makeUnaryRequest(
          `/${service.typeName}/${method.name}`,
          (msg: unknown) => Buffer.from(toBinary(method.input, msg as never)),
          (buf: Buffer) => fromBinary(method.output, buf) as unknown as Record<string, unknown>,
          create(method.input as DescMessage, init as never),
          new Metadata(),
          { deadline: Date.now() + 5000 },
          (err, res) => (err ? reject(err) : resolve(res!)),
        );
      });
    };
    try {
      const opened = await call('Open', { type: 'dummy' });
      const prepared = await call('PreparePort', {
        instanceId: opened.instanceId,
        opType: 1,
        lportName: 'lsp-reflected',
        lportOptions: { 'vif-plug-type': 'dummy', 'requested-chassis': 'host1' },
      });
      expect(prepared).toMatchObject({ plug: true, name: 'lsp-reflected', type: 'internal', ifaceOptions: { 'plug-dummy-option': 'value' } });
      await call('DestroyCtx', { ctxId: prepared.ctxId });
    } finally {
      raw.close();
    }
  });
});

describe('the validators', () => {
  // What @grpc/reflection would serve: descriptors regenerated by protobufjs through proto-loader.
  const regenerated = () => {
    const pkg = loadSync(join(__dirname, '..', '..', 'proto', 'vifplug', 'v1', 'vifplug.proto'), { includeDirs: [join(__dirname, '..', '..', 'proto')] });
    const protos = (pkg['vifplug.v1.PreparePortRequest'] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos;
    return protos.map((raw) => fromBinary(FileDescriptorProtoSchema, raw));
  };

  it('reject the descriptors that break grpcurl', () => {
    const files = regenerated();
    expect(mapEntryProblems(files)).toContainEqual(expect.stringContaining('must be named LportOptionsEntry'));
    expect(() => createFileRegistry(descriptorSet(files))).toThrow();
  });

  it('reject a renamed map entry', async () => {
    const reflection = new ReflectionClient(t.target, 'v1');
    try {
      const files = (await reflection.resolve(['vifplug.v1.VifPlug'])).map((f) => clone(FileDescriptorProtoSchema, f));
      const request = files.find((f) => f.name === 'vifplug/v1/vifplug.proto')!.messageType.find((m) => m.name === 'PreparePortRequest')!;
      request.nestedType.find((n) => n.name === 'LportOptionsEntry')!.name = 'LportOptions';
      for (const field of request.field) field.typeName = field.typeName.replace('LportOptionsEntry', 'LportOptions');
      expect(mapEntryProblems(files)).toEqual(['.vifplug.v1.PreparePortRequest.LportOptions: map entry of lport_options must be named LportOptionsEntry']);
    } finally {
      reflection.close();
    }
  });
});
