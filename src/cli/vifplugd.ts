#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';

import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

import { createLogger, guardProcess } from '../common/log';
import { BUILTIN_TYPES, builtinProviders } from '../providers/builtins';
import { Registry, describeError } from '../registry';
import { remoteConnector } from '../remote';
import { ProviderDirectory } from '../remote/discovery';
import { resolveGroup } from '../common/socket-file';
import type { Metrics } from '../server/metrics';
import { VifplugServer } from '../server/server';
import { CertificateFiles } from '../grpc/tls';
import { VERSION } from '../common/version';
import { UsageError, parseDaemonArgs, usage, type DaemonConfig, type RemoteProvidersConfig } from './daemon-config';

/** vifplugd: parse flags, register the start-up providers, serve until SIGTERM or SIGINT. */
async function main(): Promise<number> {
  const builtinTypes = [...BUILTIN_TYPES].sort();
  let config: DaemonConfig;
  try {
    const command = parseDaemonArgs(process.argv.slice(2), process.env, builtinTypes);
    if (command.kind === 'help') {
      process.stdout.write(`${usage(builtinTypes)}\n`);
      return 0;
    }
    if (command.kind === 'version') {
      process.stdout.write(`vifplugd ${VERSION}\n`);
      return 0;
    }
    config = command.config;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vifplugd: ${err.message}\nTry 'vifplugd --help'.\n`);
    return 2;
  }

  const logger = createLogger(config.logLevel);
  guardProcess(logger, 'vifplugd');
  // Listen for the stop signals before anything else: one that arrives while
  // starting must still end in a clean shutdown, not in the default kill.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let server: VifplugServer | undefined;
  let metrics: Metrics | undefined;
  let providerTls: ChannelCredentials | undefined;
  try {
    providerTls = providerCredentials(config.remoteProviders.tls);
  } catch (err) {
    logger.fatal({ err }, `--provider-tls-*: ${describeError(err)}`);
    return 1;
  }
  const registry = new Registry({
    builtins: builtinProviders({
      representor: config.representor,
      logger,
      onRefreshed: (report) => {
        metrics?.refreshed(report);
        server?.hardwareRefreshed();
      },
    }),
    remote: remoteConnector({
      providerTimeoutMs: config.providerTimeoutMs,
      probeIntervalMs: config.remoteProviders.probeIntervalMs,
      tls: providerTls,
      logger,
    }),
    onFault: ({ type, operation, error }) => logger.warn({ provider: type, operation, err: error }, `provider "${type}" failed in ${operation}`),
    limits: {
      maxCtxs: config.maxCtxs,
      ctxTtlMs: config.ctxTtlMs,
      providerTimeoutMs: config.providerTimeoutMs,
      maxCallsPerInstance: config.maxProviderCalls,
    },
  });

  process.on('SIGHUP', () => {
    if (config.tls === undefined) return logger.info('SIGHUP: no TLS files to re-read');
    try {
      server?.reloadCertificates();
      logger.info({ cert: config.tls.certFile }, 'SIGHUP: TLS files re-read; new connections use them');
    } catch (err) {
      logger.error({ err }, `SIGHUP: keeping the previous TLS files: ${describeError(err)}`);
    }
  });
  let metricsServer: HttpServer | undefined;
  let directory: ProviderDirectory | undefined;
  try {
    for (const type of config.providers) {
      await registry.register(type).catch((err: unknown) => {
        throw new Error(`cannot register provider "${type}": ${describeError(err)}`, { cause: err });
      });
    }
    // prom-client is loaded only when metrics are asked for: it costs start-up time.
    if (config.metricsListen !== undefined) {
      metrics = new (require('../server/metrics') as typeof import('../server/metrics')).Metrics(registry);
    }
    server = new VifplugServer({
      registry,
      listen: config.listen,
      logger,
      socketMode: config.socketMode,
      socketGroup: config.socketGroup === undefined ? undefined : await resolveGroup(config.socketGroup),
      tls: config.tls === undefined ? undefined : new CertificateFiles(config.tls),
      insecureTcp: config.insecureTcp,
      metrics: metrics?.calls,
      shutdownGraceMs: config.shutdownGraceMs,
      registration: config.remoteProviders.registration,
    });
    await server.start();
    if (config.remoteProviders.dir !== undefined) {
      directory = new ProviderDirectory({
        dir: config.remoteProviders.dir,
        registry,
        logger,
        rescanMs: config.remoteProviders.probeIntervalMs,
        timeoutMs: config.providerTimeoutMs,
        tls: providerTls,
      });
      await directory.start();
    }
    if (metrics !== undefined && config.metricsListen !== undefined) {
      const { serveMetrics } = require('../grpc/metrics-endpoint') as typeof import('../grpc/metrics-endpoint');
      const served = await serveMetrics(config.metricsListen, metrics, logger);
      metricsServer = served.server;
      logger.info({ metrics: `http://${config.metricsListen.host}:${served.port}/metrics` }, 'serving metrics');
    }
  } catch (err) {
    logger.fatal({ err }, describeError(err));
    directory?.stop();
    await registry.destroyAll();
    return 1;
  }
  const running = server;
  logger.info(
    {
      version: VERSION,
      node: process.version,
      listen: running.endpoints.map((e) => e.target),
      tls: config.tls === undefined ? 'off' : config.tls.clientCaFile === undefined ? 'tls' : 'mutual',
      providers: registry.list().map((p) => p.type),
    },
    'vifplugd serving',
  );

  const signal = await stopSignal;
  logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining calls in flight');
  const force = () => {
    logger.warn('second signal: cancelling calls in flight');
    running.forceShutdown();
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  metricsServer?.close();
  directory?.stop();
  await running.shutdown();
  await registry.destroyAll();
  logger.info('vifplugd stopped');
  return 0;
}

/** Channel credentials for providers reached over TCP; read once at start. */
function providerCredentials(tls: RemoteProvidersConfig['tls']): ChannelCredentials | undefined {
  if (tls === undefined) return undefined;
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${describeError(err)}`);
    }
  };
  return credentials.createSsl(read(tls.caFile), tls.keyFile === undefined ? null : read(tls.keyFile), tls.certFile === undefined ? null : read(tls.certFile));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vifplugd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
