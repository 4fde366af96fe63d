#!/usr/bin/env node
import { createLogger, type Logger } from '../log';
import { builtinProviders } from '../providers/builtins';
import { Registry, describeError } from '../registry';
import { VifplugServer } from '../server/server';
import { VERSION } from '../version';
import { UsageError, parseDaemonArgs, usage, type DaemonConfig } from './daemon-config';

/** vifplugd: parse flags, register the start-up providers, serve until SIGTERM or SIGINT. */
async function main(): Promise<number> {
  const builtins = builtinProviders();
  const builtinTypes = [...builtins.keys()].sort();
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
  guardProcess(logger);
  const registry = new Registry({
    builtins,
    onFault: ({ type, operation, error }) => logger.warn({ provider: type, operation, err: error }, `provider "${type}" failed in ${operation}`),
  });

  for (const type of config.providers) {
    try {
      await registry.register(type);
    } catch (err) {
      logger.fatal({ provider: type, err }, `cannot register provider "${type}": ${describeError(err)}`);
      return 1;
    }
  }

  const server = new VifplugServer({
    registry,
    listen: config.listen,
    logger,
    socketMode: config.socketMode,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  try {
    await server.start();
  } catch (err) {
    logger.fatal({ err }, describeError(err));
    await registry.destroyAll();
    return 1;
  }
  logger.info(
    {
      version: VERSION,
      node: process.version,
      listen: server.endpoints.map((e) => e.target),
      providers: registry.list().map((p) => p.type),
    },
    'vifplugd serving',
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining calls in flight');
  const force = () => {
    logger.warn('second signal: cancelling calls in flight');
    server.forceShutdown();
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await server.shutdown();
  await registry.destroyAll();
  logger.info('vifplugd stopped');
  return 0;
}

/** A bug must not take the daemon down silently, nor keep it up in an unknown state. */
function guardProcess(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug in vifplugd); continuing');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception (a bug in vifplugd); exiting');
    process.exit(1);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vifplugd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
