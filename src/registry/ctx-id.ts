/**
 * The ids the daemon hands out (instances and ctxs): unguessable, cheap to
 * make, safe on a command line.
 */

import { randomBytes } from 'node:crypto';

/** 18 bytes: 144 bits from the CSPRNG, exactly 24 base64url characters. */
const ID_BYTES = 18;
const ID_CHARS = 24;
const POOL_IDS = 256;

let pool = '';
let offset = 0;

/**
 * A fresh opaque id: 144 bits from the system CSPRNG, base64url (24 chars).
 * Ids are unguessable so that one client cannot finish or destroy another's
 * ctx by counting. PreparePort makes one per call, so entropy is drawn and
 * encoded 256 ids at a time: one native call per batch instead of two per id.
 */
export function newId(): string {
  for (;;) {
    if (offset === pool.length) {
      pool = randomBytes(ID_BYTES * POOL_IDS).toString('base64url');
      offset = 0;
    }
    const id = pool.slice(offset, offset + ID_CHARS);
    offset += ID_CHARS;
    // An id starting with "-" would read as an option on a command line
    // (vifplugctl finish -x...); skipping those costs a twentieth of a bit.
    if (id.charCodeAt(0) !== 0x2d && id.charCodeAt(0) !== 0x5f) return id;
  }
}
