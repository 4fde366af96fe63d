/**
 * Server reflection (grpc.reflection.v1 and v1alpha), so that grpcurl can
 * list, describe and call everything the daemon serves: answers come from the
 * descriptor set compiled with the code (src/gen/descriptor-set.ts), served
 * byte for byte so that map fields and comments reach the client intact.
 */

import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { status as Code } from '@grpc/grpc-js';
import type { DescFile, DescMessage } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';

import { descriptorSetBase64 } from '../gen/descriptor-set';
import { ServerReflectionService as V1Service, type ServerReflectionRequest, type ServerReflectionResponse } from '../gen/grpc/reflection/v1/reflection';
import { ServerReflectionService as V1AlphaService } from '../gen/grpc/reflection/v1alpha/reflection';

import { NO_METRICS, type CallMetrics } from './call-metrics';

export { V1Service as ReflectionV1Service, V1AlphaService as ReflectionV1AlphaService };

/**
 * What reflection knows: every proto file the daemon serves, as the exact
 * bytes the compiler wrote (so map entries, imports and comments reach
 * grpcurl intact), and which file defines each fully-qualified symbol.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, { raw: Uint8Array; deps: readonly string[] }>();
  private readonly symbols = new Map<string, string>();

  constructor(setBytes: Uint8Array) {
    // Loaded here, not at start-up: the descriptor machinery costs tens of
    // milliseconds to load and only reflection clients need it.
    const { createFileRegistry, fromBinary } = require('@bufbuild/protobuf') as typeof import('@bufbuild/protobuf');
    const { FileDescriptorProtoSchema, FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt') as typeof import('@bufbuild/protobuf/wkt');
    // Validates the whole set (names, map entries, references) before serving any of it.
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, setBytes));
    for (const raw of rawFiles(setBytes)) {
      const name = fromBinary(FileDescriptorProtoSchema, raw).name;
      const file = registry.getFile(name);
      if (file === undefined) throw new Error(`descriptor set lost ${name}`);
      this.files.set(name, { raw, deps: file.dependencies.map((d) => d.proto.name) });
      this.indexFile(file);
    }
  }

  static served(): DescriptorIndex {
    return new DescriptorIndex(Buffer.from(descriptorSetBase64, 'base64'));
  }

  /** The file that defines `symbol`, with its transitive imports; undefined if unknown. */
  fileContainingSymbol(symbol: string): Uint8Array[] | undefined {
    const file = this.symbols.get(symbol);
    return file === undefined ? undefined : this.fileByName(file);
  }

  /** The named file followed by its transitive imports, each once. */
  fileByName(name: string): Uint8Array[] | undefined {
    if (!this.files.has(name)) return undefined;
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (fileName: string) => {
      const file = this.files.get(fileName);
      if (file === undefined || seen.has(fileName)) return;
      seen.add(fileName);
      out.push(file.raw);
      for (const dep of file.deps) visit(dep);
    };
    visit(name);
    return out;
  }

  private indexFile(file: DescFile): void {
    const add = (name: string) => this.symbols.set(name, file.proto.name);
    const addMessage = (message: DescMessage) => {
      add(message.typeName);
      for (const field of message.fields) add(`${message.typeName}.${field.name}`);
      for (const oneof of message.oneofs) add(`${message.typeName}.${oneof.name}`);
      for (const nested of message.nestedMessages) addMessage(nested);
      for (const nested of message.nestedEnums) add(nested.typeName);
      for (const ext of message.nestedExtensions) add(ext.typeName);
    };
    for (const message of file.messages) addMessage(message);
    for (const en of file.enums) add(en.typeName);
    for (const ext of file.extensions) add(ext.typeName);
    for (const service of file.services) {
      add(service.typeName);
      for (const method of service.methods) add(`${service.typeName}.${method.name}`);
    }
  }
}

/** The FileDescriptorProto entries of a FileDescriptorSet, as raw bytes. */
function rawFiles(setBytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(setBytes);
  const out: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) out.push(reader.bytes());
    else reader.skip(wireType);
  }
  return out;
}

type ReflectionCall = ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;

/**
 * grpc.reflection.v1 and v1alpha (grpcurl asks v1 first and falls back to
 * v1alpha). The two are wire-identical, so one implementation serves both.
 * `services` are the names answered to list_services.
 */
export function reflectionImplementation(
  path: string,
  index: () => DescriptorIndex,
  services: readonly string[],
  metrics: CallMetrics = NO_METRICS,
): UntypedServiceImplementation {
  return {
    serverReflectionInfo: (call: ReflectionCall) => {
      const done = metrics.start(path, 'bidi_stream');
      call.on('data', (request: ServerReflectionRequest) => {
        done.received();
        let response: ServerReflectionResponse;
        try {
          response = answer(index(), services, request);
        } catch (err) {
          response = errorResponse(request, Code.INTERNAL, `reflection failed: ${String(err)}`);
        }
        call.write(response);
        done.sent();
      });
      call.on('end', () => {
        call.end();
        done.end(Code.OK);
      });
      call.on('error', () => done.end(Code.CANCELLED));
    },
  };
}

function answer(index: DescriptorIndex, services: readonly string[], request: ServerReflectionRequest): ServerReflectionResponse {
  const base = { validHost: request.host, originalRequest: request };
  const asked = request.messageRequest;
  switch (asked?.$case) {
    case 'listServices':
      return { ...base, messageResponse: { $case: 'listServicesResponse', value: { service: services.map((name) => ({ name })) } } };
    case 'fileByFilename':
      return files(base, index.fileByName(asked.value), `no file named "${asked.value}"`);
    case 'fileContainingSymbol':
      return files(base, index.fileContainingSymbol(asked.value), `no symbol named "${asked.value}"`);
    case 'fileContainingExtension':
      return errorResponse(request, Code.NOT_FOUND, `no extension ${asked.value.extensionNumber} of "${asked.value.containingType}"`);
    case 'allExtensionNumbersOfType':
      if (index.fileContainingSymbol(asked.value) === undefined) {
        return errorResponse(request, Code.NOT_FOUND, `no message named "${asked.value}"`);
      }
      return {
        ...base,
        messageResponse: { $case: 'allExtensionNumbersResponse', value: { baseTypeName: asked.value, extensionNumber: [] } },
      };
    default:
      return errorResponse(request, Code.INVALID_ARGUMENT, 'empty or unknown reflection request');
  }
}

function files(
  base: Pick<ServerReflectionResponse, 'validHost' | 'originalRequest'>,
  found: Uint8Array[] | undefined,
  missing: string,
): ServerReflectionResponse {
  if (found === undefined) return errorResponse(base.originalRequest!, Code.NOT_FOUND, missing);
  return {
    ...base,
    messageResponse: { $case: 'fileDescriptorResponse', value: { fileDescriptorProto: found.map((f) => Buffer.from(f)) } },
  };
}

function errorResponse(request: ServerReflectionRequest, errorCode: number, errorMessage: string): ServerReflectionResponse {
  return {
    validHost: request.host,
    originalRequest: request,
    messageResponse: { $case: 'errorResponse', value: { errorCode, errorMessage } },
  };
}
