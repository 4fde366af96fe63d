import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (the sidecar convention: the platform collects them),
 * ISO timestamps and level names rather than numbers, so that `jq` and people
 * read them alike.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino(
    {
      level,
      base: { service: 'vifplugd', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
