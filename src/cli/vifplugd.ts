#!/usr/bin/env node
/**
 * vifplugd, the program: reads flags and environment (daemon-config.ts),
 * starts the daemon (daemon.ts) and serves until SIGTERM or SIGINT, then
 * drains and exits 0; a second signal cancels the calls still in flight.
 * SIGHUP re-reads the TLS files. Exit status 2 for bad flags, 1 when the
 * daemon cannot start. It assembles nothing itself: everything the daemon is
 * made of is daemon.ts's, so that tests and benchmarks run the same wiring.
 */

import { createLogger, guardProcess } from '../common/log';
import { logStartupFailure } from './startup-failure';
import { routeGrpcLog } from './grpc-log';
import { VERSION } from '../common/version';
import { startDaemon, type Daemon } from '../daemon';
import { BUILTIN_TYPES } from '../providers/builtins';
import { describeError } from '../registry';
import { UsageError, parseDaemonArgs, usage, type ParsedCommand } from './daemon-config';

async function main(): Promise<number> {
  const builtinTypes = [...BUILTIN_TYPES].sort();
  let command: ParsedCommand;
  try {
    command = parseDaemonArgs(process.argv.slice(2), process.env, builtinTypes);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vifplugd: ${err.message}\nTry 'vifplugd --help'.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${usage(builtinTypes)}\n`);
    return 0;
  }
  if (command.kind === 'version') {
    process.stdout.write(`vifplugd ${VERSION}\n`);
    return 0;
  }
  const { config } = command;

  const logger = createLogger(command.logLevel, undefined, 'vifplugd', command.logFormat);
  guardProcess(logger, 'vifplugd');
  routeGrpcLog(logger);
  // Listen for the stop signals before anything else: one that arrives while
  // starting must still end in a clean shutdown, not in the default kill.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let daemon: Daemon | undefined;
  process.on('SIGHUP', () => {
    if (config.tls === undefined) return logger.info('SIGHUP: no TLS files to re-read');
    try {
      daemon?.reloadCertificates();
      logger.info({ cert: config.tls.certFile }, 'SIGHUP: TLS files re-read; new connections use them');
    } catch (err) {
      logger.error({ err }, `SIGHUP: keeping the previous TLS files: ${describeError(err)}`);
    }
  });
  try {
    daemon = await startDaemon(config, { logger });
  } catch (err) {
    logStartupFailure(logger, err, 'vifplugd cannot start');
    return 1;
  }
  const running = daemon;
  if (running.metricsUrl !== undefined) logger.info({ metrics: running.metricsUrl }, 'serving metrics');
  logger.info(
    {
      version: VERSION,
      node: process.version,
      listen: running.endpoints.map((e) => e.target),
      tls: config.tls === undefined ? 'off' : config.tls.clientCaFile === undefined ? 'tls' : 'mutual',
      providers: running.registry.list().map((p) => p.type),
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
  await running.stop();
  logger.info('vifplugd stopped');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vifplugd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
