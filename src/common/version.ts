/**
 * The package's version, for --version and the logs.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read once from the package.json two levels above this file, in src/ and in dist/ alike. */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0-unknown';
  }
})();
