import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { parseListen, type TcpAddress } from '../../src/api/endpoint';
import { VifplugClient, type ClientOptions } from '../../src/client/client';
import { createLogger } from '../../src/common/log';
import { DEFAULT_DAEMON_CONFIG, startDaemon, type RemoteProvidersConfig } from '../../src/daemon';
import { DEFAULT_LIMITS, type ProviderFactory, type Registry, type RegistryLimits } from '../../src/registry';
import type { VifplugServer } from '../../src/server/server';
import type { RegistrationPolicy } from '../../src/server/vifplug-service';
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
  /** http://127.0.0.1:PORT/metrics, with `metrics`. */
  readonly metricsUrl: string | undefined;
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
 * vifplugd as the product assembles it (daemon.ts), in this process, on a
 * real unix socket, with the given providers registered, and a real client
 * connected to it. The built-in classes are the test's (the dummy and
 * test-only classes unless given), and out-of-process providers are taken
 * only with `remote`.
 */
export async function startTestServer(
  options: {
    providers?: string[];
    builtins?: Map<string, ProviderFactory>;
    shutdownGraceMs?: number;
    tcp?: boolean;
    limits?: Partial<RegistryLimits>;
    /** Take out-of-process providers (Register with an endpoint), probed at this pace. */
    remote?: { probeIntervalMs?: number; tls?: RemoteProvidersConfig['tls'] };
    registration?: RegistrationPolicy;
    /** Serve Prometheus metrics on a loopback port. */
    metrics?: boolean;
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
  const listen = [parseListen(`unix://${socketPath}`)];
  if (options.tcp) listen.push(parseListen('127.0.0.1:0'));
  const daemon = await startDaemon(
    {
      ...DEFAULT_DAEMON_CONFIG,
      listen,
      providers: options.providers ?? [],
      shutdownGraceMs: options.shutdownGraceMs ?? 2000,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      registration: options.registration ?? 'unix',
      metricsListen: options.metrics ? (parseListen('127.0.0.1:0') as TcpAddress) : undefined,
      remoteProviders: options.remote && { dir: undefined, probeIntervalMs: options.remote.probeIntervalMs ?? 200, tls: options.remote.tls },
    },
    { logger, builtins: () => builtins },
  );
  const { server, registry } = daemon;
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
    metricsUrl: daemon.metricsUrl,
    newClient,
    stop: async () => {
      for (const c of clients) c.close();
      await daemon.stop();
      dir.remove();
    },
  };
}
