/**
 * How every program of ours logs: JSON lines with ISO timestamps and level
 * names for machines, or one line of text per event for a person at a
 * terminal (pino-pretty); a rate limiter that keeps a retried failure from
 * flooding the log; and the guard that makes a bug end the process loudly
 * rather than leave it in an unknown state.
 */

import { performance } from 'node:perf_hooks';

import pino, { type Logger } from 'pino';

export type { Logger };

/** json: one JSON object per line (collectors, jq); text: one readable line per event (a terminal). */
export type LogFormat = 'json' | 'text';

/**
 * Logs on stdout (the sidecar convention: the platform collects them), ISO
 * timestamps and level names rather than numbers, so that `jq` and people
 * read them alike. Writes are synchronous in both formats: a fatal line is
 * out before the process exits, and no worker thread is involved.
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true }),
  service = 'vifplugd',
  format: LogFormat = 'json',
): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'text' ? textDestination(destination) : destination,
  );
}

/**
 * The text format: pino-pretty's formatter, used in this thread as a plain
 * function over each JSON line pino writes (not pino's transport, whose
 * worker thread can lose the last lines when a fatal error exits at once).
 * "14:10:22.533 WARN: message {fields}", one line per event; colours only on
 * a terminal, and never with NO_COLOR set.
 */
export function textDestination(out: pino.DestinationStream, colorize = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === ''): pino.DestinationStream {
  // Loaded only for the text format: it costs some 50 ms of start-up that JSON logs need not pay.
  const { prettyFactory } = require('pino-pretty') as typeof import('pino-pretty');
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    // An error's stack is printed under its line (pino-pretty's way): only bugs carry one.
    errorLikeObjectKeys: ['err'],
  });
  return { write: (line: string) => out.write(pretty(line)) };
}

/**
 * Lets `burst` events per key through in each window and counts the rest, so
 * that a controller retrying the same failing port every loop iteration
 * cannot flood the log. The next line let through reports how many were
 * suppressed. Keys are few (method and reason); the table is bounded anyway.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; passed: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly burst = 5,
    private readonly maxKeys = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** undefined: drop this event; a number: log it, noting that many suppressed before it. */
  admit(key: string): number | undefined {
    const now = this.now();
    let w = this.windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      if (w === undefined && this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      w = { start: now, passed: 0, suppressed };
      this.windows.set(key, w);
    }
    if (w.passed >= this.burst) {
      w.suppressed++;
      return undefined;
    }
    w.passed++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    return suppressed;
  }
}

/** A bug must not take a program down silently, nor keep it up in an unknown state. */
export function guardProcess(logger: Logger, program: string): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, `unhandled promise rejection (a bug in ${program}); continuing`);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, `uncaught exception (a bug in ${program}); exiting`);
    process.exit(1);
  });
}
