/**
 * The framing of an OVSDB connection: bytes in, JSON values out (see
 * JsonStream). It is on the path of every byte a server sends, so it scans
 * each byte once and copies a message at most once. It must not interpret
 * the values: JSON-RPC is jsonrpc.ts's job.
 */

import { OvsdbProtocolError } from './errors';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Splits the byte stream of an OVSDB connection into JSON values. OVSDB
 * sends JSON-RPC messages back to back with no delimiter (RFC 7047 §4), so
 * the only way to find where one ends is to follow the nesting of brackets
 * outside strings. Bytes are scanned once, a message split across chunks is
 * joined once when complete, and a message larger than `maxBytes` fails the
 * stream before it is buffered whole.
 */
export class JsonStream {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes of the value in progress from earlier chunks. */
  private pieces: Buffer[] = [];
  private pending = 0;

  constructor(private readonly maxBytes: number) {}

  /** Feeds a chunk; returns the values it completes, in order. Throws OvsdbProtocolError on a framing or JSON error. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    // The scanner's state lives in locals while scanning: this loop runs once per byte received.
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let start = depth > 0 ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
      } else if (depth === 0) {
        if (isSpace(c)) continue;
        if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
          throw new OvsdbProtocolError(`expected a JSON object between messages, got byte 0x${c.toString(16)}`);
        }
        start = i;
        depth = 1;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) {
        out.push(this.complete(chunk.subarray(start, i + 1)));
        start = -1;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (depth > 0) {
      const rest = chunk.subarray(start);
      this.pending += rest.length;
      this.checkSize(this.pending);
      this.pieces.push(rest);
    }
    return out;
  }

  private complete(last: Buffer): unknown {
    const size = this.pending + last.length;
    this.checkSize(size);
    const bytes = this.pieces.length === 0 ? last : Buffer.concat([...this.pieces, last], size);
    this.pieces = [];
    this.pending = 0;
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new OvsdbProtocolError(`received a message that is not valid JSON (${(err as Error).message})`);
    }
  }

  private checkSize(size: number): void {
    if (size > this.maxBytes) {
      throw new OvsdbProtocolError(`received a message larger than the ${this.maxBytes}-byte limit; raise maxMessageBytes if the database is that large`);
    }
  }
}
