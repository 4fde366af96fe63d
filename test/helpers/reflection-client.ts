import { Client, credentials, type ChannelOptions } from '@grpc/grpc-js';
import { create, fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

import { ServerReflectionService as V1, type ServerReflectionRequest, type ServerReflectionResponse } from '../../src/gen/grpc/reflection/v1/reflection';
import { ServerReflectionService as V1Alpha } from '../../src/gen/grpc/reflection/v1alpha/reflection';

export type ReflectionVersion = 'v1' | 'v1alpha';

/**
 * Does what grpcurl does through server reflection: list the services, ask
 * for the file that defines each symbol, then fetch every import by file name
 * until all are known. Returns the descriptors exactly as the server sent them.
 */
export class ReflectionClient {
  private readonly client: Client;

  constructor(target: string, private readonly version: ReflectionVersion, options: ChannelOptions = {}) {
    this.client = new Client(target, credentials.createInsecure(), options);
  }

  close(): void {
    this.client.close();
  }

  async listServices(): Promise<string[]> {
    const [response] = await this.ask([{ host: '', messageRequest: { $case: 'listServices', value: '*' } }]);
    if (response?.messageResponse?.$case !== 'listServicesResponse') throw new Error(`unexpected answer ${JSON.stringify(response)}`);
    return response.messageResponse.value.service.map((s) => s.name);
  }

  /** Every file needed to describe `symbols`, resolved like grpcurl resolves them. */
  async resolve(symbols: string[]): Promise<FileDescriptorProto[]> {
    const files = new Map<string, FileDescriptorProto>();
    const take = (response: ServerReflectionResponse | undefined) => {
      if (response?.messageResponse?.$case === 'errorResponse') {
        throw new Error(`reflection error ${response.messageResponse.value.errorCode}: ${response.messageResponse.value.errorMessage}`);
      }
      if (response?.messageResponse?.$case !== 'fileDescriptorResponse') throw new Error('no file descriptor in the answer');
      for (const raw of response.messageResponse.value.fileDescriptorProto) {
        const file = fromBinary(FileDescriptorProtoSchema, raw);
        files.set(file.name, file);
      }
    };
    for (const response of await this.ask(symbols.map((s) => ({ host: '', messageRequest: { $case: 'fileContainingSymbol', value: s } })))) {
      take(response);
    }
    for (;;) {
      const missing = [...new Set([...files.values()].flatMap((f) => f.dependency))].filter((d) => !files.has(d));
      if (missing.length === 0) break;
      for (const response of await this.ask(missing.map((name) => ({ host: '', messageRequest: { $case: 'fileByFilename', value: name } })))) {
        take(response);
      }
    }
    return [...files.values()];
  }

  /** Sends requests on one stream and collects one answer per request. */
  ask(requests: ServerReflectionRequest[]): Promise<ServerReflectionResponse[]> {
    const def = this.version === 'v1' ? V1.serverReflectionInfo : V1Alpha.serverReflectionInfo;
    return new Promise((resolve, reject) => {
      const answers: ServerReflectionResponse[] = [];
      const call = this.client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
      call.on('data', (answer: ServerReflectionResponse) => answers.push(answer));
      call.on('error', reject);
      call.on('end', () => resolve(answers));
      for (const request of requests) call.write(request);
      call.end();
    });
  }
}

/** A FileDescriptorSet with imports before the files that import them, as protoc writes it. */
export function descriptorSet(files: FileDescriptorProto[]) {
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (file: FileDescriptorProto) => {
    if (placed.has(file.name)) return;
    placed.add(file.name);
    for (const dep of file.dependency) {
      const imported = byName.get(dep);
      if (imported) place(imported);
    }
    ordered.push(file);
  };
  files.forEach(place);
  return create(FileDescriptorSetSchema, { file: ordered } as MessageInitShape<typeof FileDescriptorSetSchema>);
}

/**
 * protoc's rules for map fields, which grpcurl (jhump/protoreflect) enforces
 * and @grpc/reflection breaks: the entry type is nested in the message, named
 * after the field in CamelCase plus "Entry", marked map_entry, with fields
 * key = 1 and value = 2. Returns one line per violation.
 */
export function mapEntryProblems(files: FileDescriptorProto[]): string[] {
  const problems: string[] = [];
  const visit = (scope: string, message: FileDescriptorProto['messageType'][number]) => {
    const name = `${scope}.${message.name}`;
    for (const entry of message.nestedType.filter((n) => n.options?.mapEntry)) {
      // Fully qualified (as compilers write it) or relative (as protobufjs does).
      const field = message.field.find((f) => f.typeName === `${name}.${entry.name}` || f.typeName.split('.').pop() === entry.name);
      const expected = field && `${field.name.replace(/(^|_)([a-z0-9])/g, (_m, _u, c: string) => c.toUpperCase())}Entry`;
      if (field === undefined) problems.push(`${name}.${entry.name}: no field uses this map entry`);
      else if (entry.name !== expected) problems.push(`${name}.${entry.name}: map entry of ${field.name} must be named ${expected}`);
      const [key, value] = [1, 2].map((n) => entry.field.find((f) => f.number === n));
      if (key?.name !== 'key' || value?.name !== 'value') problems.push(`${name}.${entry.name}: needs key = 1 and value = 2`);
    }
    for (const nested of message.nestedType) visit(name, nested);
  };
  for (const file of files) for (const message of file.messageType) visit(file.package ? `.${file.package}` : '', message);
  return problems;
}
