/**
 * How every program of ours logs: JSON lines with ISO timestamps and level
 * names, a rate limiter that keeps a retried failure from flooding the log,
 * and the guard that makes a bug end the process loudly rather than leave it
 * in an unknown state.
 */

import { performance } from 'node:perf_hooks';

import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (the sidecar convention: the platform collects them),
 * ISO timestamps and level names rather than numbers, so that `jq` and people
 * read them alike.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true }), service = 'vifplugd'): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
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
