import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { VifplugClient, type ClientOptions } from '../../src/client/client';
import { createLogger } from '../../src/common/log';
import { DEFAULT_LIMITS, Registry, type ProviderFactory, type RegistryLimits } from '../../src/registry';
import { remoteConnector, type RemoteSettings } from '../../src/remote';
import type { RegistrationPolicy } from '../../src/server/vifplug-service';
import { parseListen } from '../../src/api/endpoint';
import { VifplugServer } from '../../src/server/server';
import { withTestProviders } from './test-providers';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface TestServer {
  readonly server: VifplugServer;
  readonly registry: Registry;
  readonly client: VifplugClient;
  readonly socketPath: string;
  readonly target: string;
  readonly logs: LogLine[];
  /** Another client on the same socket. */
  newClient(options?: ClientOptions): VifplugClient;
  stop(): Promise<void>;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = 'vifplug-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The real server on a real unix socket in this process, with the given
 * providers registered, and a real client connected to it.
 */
export async function startTestServer(
  options: {
    providers?: string[];
    builtins?: Map<string, ProviderFactory>;
    shutdownGraceMs?: number;
    tcp?: boolean;
    limits?: Partial<RegistryLimits>;
    /** Take out-of-process providers (Register with an endpoint), probed at this pace. */
    remote?: { probeIntervalMs?: number; tls?: RemoteSettings['tls'] };
    registration?: RegistrationPolicy;
  } = {},
): Promise<TestServer> {
  const dir = tempDir();
  const socketPath = join(dir.path, 'vifplug.sock');
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const builtins = options.builtins ?? withTestProviders();
  const registry = new Registry({
    builtins,
    limits: options.limits,
    remote:
      options.remote &&
      remoteConnector({
        providerTimeoutMs: options.limits?.providerTimeoutMs ?? DEFAULT_LIMITS.providerTimeoutMs,
        probeIntervalMs: options.remote.probeIntervalMs ?? 200,
        tls: options.remote.tls,
        logger,
      }),
    onFault: (f) => logger.warn({ provider: f.type, operation: f.operation, err: f.error }, 'provider fault'),
  });
  for (const type of options.providers ?? []) await registry.register(type);
  const listen = [parseListen(`unix://${socketPath}`)];
  if (options.tcp) listen.push(parseListen('127.0.0.1:0'));
  const server = new VifplugServer({ registry, listen, logger, shutdownGraceMs: options.shutdownGraceMs ?? 2000, registration: options.registration });
  await server.start();
  const target = `unix://${socketPath}`;
  const clients: VifplugClient[] = [];
  const newClient = (clientOptions?: ClientOptions) => {
    const c = new VifplugClient(target, clientOptions);
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    server,
    registry,
    client,
    socketPath,
    target,
    logs,
    newClient,
    stop: async () => {
      for (const c of clients) c.close();
      await server.shutdown();
      await registry.destroyAll();
      dir.remove();
    },
  };
}
