/**
 * The messages of a PortStream (vifplug.provider.v1), encoded for both ends:
 * the daemon's PortStreamRequest and the SDK's PortStreamResponse. The
 * request, wrappers and PortCtxIn alike, and the response's wrappers (an id,
 * a oneof) are written here by hand, in one buffer: the generated encoder's
 * nested writers (one per wrapper, one per option) cost more than the
 * payload itself, on the hop a PortStream exists to make cheap. The
 * response's payload (a PreparePortResponse or PortError) is the generated
 * encoder's. The bytes are the generated encoder's, field for field
 * (test/api/port-stream-wire.test.ts holds it); decoding stays generated.
 */

import * as wire from '../gen/vifplug/provider/v1/provider';

// Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const ID = (1 << 3) | 0;
const REQUEST_PREPARE = (2 << 3) | 2;
const REQUEST_CANCEL = (3 << 3) | 2;
const PREPARE_REQUEST = (1 << 3) | 2;
const PREPARE_TIMEOUT = (2 << 3) | 0;
const PREPARE_PORT_INSTANCE = (1 << 3) | 2;
const PREPARE_PORT_CTX_IN = (2 << 3) | 2;
const RESPONSE_RESULT = (2 << 3) | 2;
const RESULT_PREPARED = (1 << 3) | 2;
const RESULT_ERROR = (2 << 3) | 2;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[at++] = value;
  return at;
}

/** tag, length and the payload's bytes: the size of a length-delimited field. */
const fieldSize = (length: number): number => 1 + varintSize(length) + length;

// PortCtxIn's fields.
const CTX_OP_TYPE = (1 << 3) | 0;
const CTX_USE_DPDK = (2 << 3) | 0;
const CTX_LPORT_NAME = (3 << 3) | 2;
const CTX_LPORT_OPTIONS = (4 << 3) | 2;
const CTX_IFACE_NAME = (5 << 3) | 2;
const CTX_IFACE_TYPE = (6 << 3) | 2;
const CTX_IFACE_OPTIONS = (7 << 3) | 2;
const ENTRY_KEY = (1 << 3) | 2;
const ENTRY_VALUE = (2 << 3) | 2;

/** A string field's size (0 when empty: proto3 leaves it out), its byte length pushed to `lengths`. */
function stringSize(text: string, lengths: number[]): number {
  const n = Buffer.byteLength(text);
  lengths.push(n);
  return n === 0 ? 0 : fieldSize(n);
}

/** The size of a map<string, string>'s entries, each a length-delimited message; byte lengths pushed to `lengths`. */
function mapSize(map: Map<string, string>, lengths: number[]): number {
  let size = 0;
  for (const [key, value] of map) {
    const at = lengths.length;
    lengths.push(0);
    const entry = stringSize(key, lengths) + stringSize(value, lengths);
    lengths[at] = entry;
    size += fieldSize(entry);
  }
  return size;
}

function putString(buf: Buffer, at: number, tag: number, text: string, length: number): number {
  if (length === 0) return at;
  buf[at++] = tag;
  at = putVarint(buf, at, length);
  return at + buf.write(text, at, 'utf8');
}

/**
 * A map's entries, their byte lengths read from `lengths` at `next`: three
 * an entry (the entry's, the key's, the value's, as mapSize pushed them), so
 * the caller moves on by 3 * map.size without a second value coming back.
 */
function putMap(buf: Buffer, at: number, tag: number, map: Map<string, string>, lengths: number[], next: number): number {
  for (const [key, value] of map) {
    buf[at++] = tag;
    at = putVarint(buf, at, lengths[next++]!);
    at = putString(buf, at, ENTRY_KEY, key, lengths[next++]!);
    at = putString(buf, at, ENTRY_VALUE, value, lengths[next++]!);
  }
  return at;
}

/** A PortCtxIn's size, with what putCtxIn needs in `lengths`. */
function ctxInSize(ctx: wire.PortCtxIn, lengths: number[]): number {
  let size = ctx.opType !== 0 ? 1 + varintSize(ctx.opType) : 0;
  if (ctx.useDpdk) size += 2;
  size += stringSize(ctx.lportName, lengths);
  size += mapSize(ctx.lportOptions, lengths);
  size += stringSize(ctx.ifaceName, lengths);
  size += stringSize(ctx.ifaceType, lengths);
  size += mapSize(ctx.ifaceOptions, lengths);
  return size;
}

function putCtxIn(buf: Buffer, at: number, ctx: wire.PortCtxIn, lengths: number[]): number {
  let next = 0;
  if (ctx.opType !== 0) {
    buf[at++] = CTX_OP_TYPE;
    at = putVarint(buf, at, ctx.opType);
  }
  if (ctx.useDpdk) {
    buf[at++] = CTX_USE_DPDK;
    buf[at++] = 1;
  }
  at = putString(buf, at, CTX_LPORT_NAME, ctx.lportName, lengths[next++]!);
  at = putMap(buf, at, CTX_LPORT_OPTIONS, ctx.lportOptions, lengths, next);
  next += 3 * ctx.lportOptions.size;
  at = putString(buf, at, CTX_IFACE_NAME, ctx.ifaceName, lengths[next++]!);
  at = putString(buf, at, CTX_IFACE_TYPE, ctx.ifaceType, lengths[next++]!);
  return putMap(buf, at, CTX_IFACE_OPTIONS, ctx.ifaceOptions, lengths, next);
}

/**
 * PortStreamRequest { id, prepare { request { instance_id, ctx_in }, timeout_ms } }.
 * Fields at their default (id 0, an empty instance_id, timeout_ms 0) are
 * left out, as the generated encoder does.
 */
export function encodePrepareRequest(id: number, instanceId: string, ctxIn: wire.PortCtxIn, timeoutMs: number): Buffer {
  // A negative op_type (none the daemon sends) is a ten-byte varint: the generated encoder's.
  if (ctxIn.opType < 0) return Buffer.from(wire.PortStreamRequest.encode({ id, kind: { $case: 'prepare', value: { request: { instanceId, ctxIn }, timeoutMs } } }).finish());
  const lengths: number[] = [];
  const ctxLength = ctxInSize(ctxIn, lengths);
  const instanceBytes = Buffer.byteLength(instanceId);
  const request = (instanceBytes > 0 ? fieldSize(instanceBytes) : 0) + fieldSize(ctxLength);
  const prepare = fieldSize(request) + (timeoutMs > 0 ? 1 + varintSize(timeoutMs) : 0);
  const size = (id > 0 ? 1 + varintSize(id) : 0) + fieldSize(prepare);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (id > 0) {
    buf[at++] = ID;
    at = putVarint(buf, at, id);
  }
  buf[at++] = REQUEST_PREPARE;
  at = putVarint(buf, at, prepare);
  buf[at++] = PREPARE_REQUEST;
  at = putVarint(buf, at, request);
  if (instanceBytes > 0) {
    buf[at++] = PREPARE_PORT_INSTANCE;
    at = putVarint(buf, at, instanceBytes);
    at += buf.write(instanceId, at, 'utf8');
  }
  buf[at++] = PREPARE_PORT_CTX_IN;
  at = putVarint(buf, at, ctxLength);
  at = putCtxIn(buf, at, ctxIn, lengths);
  if (timeoutMs > 0) {
    buf[at++] = PREPARE_TIMEOUT;
    at = putVarint(buf, at, timeoutMs);
  }
  return buf;
}

/** PortStreamRequest { id, cancel {} }. */
export function encodeCancelRequest(id: number): Buffer {
  const buf = Buffer.allocUnsafe((id > 0 ? 1 + varintSize(id) : 0) + 2);
  let at = 0;
  if (id > 0) {
    buf[at++] = ID;
    at = putVarint(buf, at, id);
  }
  buf[at++] = REQUEST_CANCEL;
  buf[at] = 0;
  return buf;
}

/** PortStreamResponse { id, result { prepared | error } }. */
export function encodePortStreamResponse(id: number, result: wire.PortResult): Buffer {
  const outcome = result.result;
  const payload =
    outcome === undefined ? undefined : outcome.$case === 'prepared' ? wire.PreparePortResponse.encode(outcome.value).finish() : wire.PortError.encode(outcome.value).finish();
  const inner = payload === undefined ? 0 : fieldSize(payload.length);
  const size = (id > 0 ? 1 + varintSize(id) : 0) + fieldSize(inner);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (id > 0) {
    buf[at++] = ID;
    at = putVarint(buf, at, id);
  }
  buf[at++] = RESPONSE_RESULT;
  at = putVarint(buf, at, inner);
  if (payload !== undefined) {
    buf[at++] = outcome!.$case === 'prepared' ? RESULT_PREPARED : RESULT_ERROR;
    at = putVarint(buf, at, payload.length);
    buf.set(payload, at);
  }
  return buf;
}
