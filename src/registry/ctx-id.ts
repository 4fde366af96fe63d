import { randomBytes } from 'node:crypto';

const ID_BYTES = 16;
const POOL_IDS = 256;

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A fresh opaque id: 128 bits from the system CSPRNG, base64url (22 chars).
 * Ids are unguessable so that one client cannot finish or destroy another's
 * ctx by counting; entropy is drawn in batches because PreparePort creates one
 * per call.
 */
export function newId(): string {
  if (offset === pool.length) {
    pool = randomBytes(ID_BYTES * POOL_IDS);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}
