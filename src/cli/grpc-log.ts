/**
 * grpc-js's own log lines. By default grpc-js prints its errors on stderr as
 * "E No address added out of total 1 resolved": a stray line beside our
 * logs, about a failure our code reports itself, with the remedy. Our
 * programs route those lines into their logger at debug level instead (a
 * daemon) or drop them (vifplugctl). An operator who sets grpc's own
 * variables (GRPC_VERBOSITY, GRPC_TRACE, or their GRPC_NODE_ forms) to
 * debug grpc gets grpc-js's output as grpc documents it, untouched.
 */

import { setLogger } from '@grpc/grpc-js';

import type { Logger } from '../common/log';

const GRPC_VARIABLES = ['GRPC_VERBOSITY', 'GRPC_NODE_VERBOSITY', 'GRPC_TRACE', 'GRPC_NODE_TRACE'] as const;

/** True when the operator asked grpc-js for its own diagnostics. */
function grpcDebugAsked(env: NodeJS.ProcessEnv): boolean {
  return GRPC_VARIABLES.some((name) => (env[name] ?? '') !== '');
}

/** grpc-js's lines go to `logger` at debug level (tagged grpc: true), unless grpc's own variables are set. */
export function routeGrpcLog(logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  if (grpcDebugAsked(env)) return;
  const log = (message?: unknown, ...rest: unknown[]) => logger.debug({ grpc: true }, [message, ...rest].map(String).join(' '));
  setLogger({ error: log, info: log, debug: log });
}

/** grpc-js's lines are dropped (vifplugctl says what failed itself), unless grpc's own variables are set. */
export function silenceGrpcLog(env: NodeJS.ProcessEnv = process.env): void {
  if (grpcDebugAsked(env)) return;
  const drop = () => undefined;
  setLogger({ error: drop, info: drop, debug: drop });
}
