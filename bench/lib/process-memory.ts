/**
 * Loaded with `node --require` into a short-lived process the bench measures
 * (the container's health probe), with REPORT_MEMORY_ENV=1 in its
 * environment: at exit it prints the process's peak RSS and the part of its
 * RSS that is file-backed (the node binary and its libraries, shared with
 * every other node process in the container and charged to the container
 * once), from /proc/self/status. Imported anywhere else (for the names), it
 * does nothing.
 */
import { readFileSync, writeSync } from 'node:fs';

export const MEMORY_MARK = 'VIFPLUG_BENCH_MEMORY';
export const REPORT_MEMORY_ENV = 'VIFPLUG_BENCH_REPORT_MEMORY';

if (process.env[REPORT_MEMORY_ENV] === '1') {
  process.on('exit', () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    writeSync(2, `${MEMORY_MARK} ${JSON.stringify({ hwm: kb('VmHWM'), rssFile: kb('RssFile') })}\n`);
  });
}
