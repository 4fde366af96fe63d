/** The real devlink and sysfs outputs the representor tests use (shared/fixtures/representors, verbatim). */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURE_DIR = join(__dirname, '..', '..', 'fixtures', 'representors');

/** A fixture's text. */
export function readFixture(name: string): string {
  return readFileSync(join(FIXTURE_DIR, name), 'utf8');
}
