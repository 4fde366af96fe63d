/**
 * How a program of ours says that it cannot start: one fatal log line, in
 * the chosen format, whose message says what failed and what to do (the
 * errors of the parts it starts are written that way). No stack for an
 * operator's mistake: it is logged at debug level, and kept on the fatal line
 * only for what looks like a bug (a TypeError and its kind).
 */

import type { Logger } from '../common/log';
import { describeError } from '../registry';

const BUG_TYPES = [TypeError, ReferenceError, RangeError, SyntaxError];

export function logStartupFailure(logger: Logger, err: unknown, what: string): void {
  const bug = BUG_TYPES.some((type) => err instanceof type);
  if (bug) {
    logger.fatal({ err }, `${what}: ${describeError(err)} (a bug; please report it with this line)`);
    return;
  }
  logger.debug({ err }, 'the start-up failure below, with its stack');
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  logger.fatal(typeof code === 'string' ? { code } : {}, `${what}: ${describeError(err)}`);
}
