/**
 * Whether an answer reached its caller. A client that cancels, or whose
 * deadline passes, while the daemon is busy or stopped resets its stream;
 * the daemon may still read the request and answer it, and grpc-js then
 * drops the answer without a word. For PreparePort that answer holds a ctx
 * nobody will ever finish or destroy: it would live until --ctx-ttl and count
 * against --max-ctx. The same holds for an answer written just before the
 * client's reset arrived: the client saw a cancelled call, not the ctx id.
 *
 * grpc-js offers no public way to learn this, so the HTTP/2 stream under the
 * call is watched: an OK answer was delivered exactly when the stream sent
 * its trailers (grpc-status) and then closed without a reset. Where the
 * stream cannot be found (another grpc-js layout), the call's own cancelled
 * flag is the fallback, which catches the common case of a stream already
 * gone when the answer is ready.
 */

import { constants, type ServerHttp2Stream } from 'node:http2';

import type { ServerUnaryCall } from '@grpc/grpc-js';

/** How a call's delivery is watched: its HTTP/2 stream, or (grpc-js internals changed) only its cancelled flag. */
export type DeliveryWatch = 'stream' | 'cancelled-flag';

/**
 * Calls `release` once if the answer to `call` does not reach the client.
 * Register it once the answer is known and before it is handed to grpc-js.
 * Returns how it watches: test/server/delivery.test.ts fails if a grpc-js
 * upgrade moves the stream out of reach ('cancelled-flag').
 */
export function onUndelivered(call: ServerUnaryCall<unknown, unknown>, release: () => void): DeliveryWatch {
  const stream = http2StreamOf(call);
  if (stream === undefined) {
    if (call.cancelled) release();
    else setImmediate(() => call.cancelled && release());
    return 'cancelled-flag';
  }
  if (stream.closed || stream.destroyed) release();
  else {
    stream.once('close', () => {
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR || stream.sentTrailers === undefined) release();
    });
  }
  return 'stream';
}

/**
 * The stream under a grpc-js unary call: grpc-js 1.14 keeps it at
 * ServerUnaryCallImpl.call.stream, `call` being a BaseServerInterceptingCall
 * when the server has no interceptors (vifplugd has none; an interceptor
 * would wrap it). The only place that reaches into grpc-js internals.
 */
function http2StreamOf(call: ServerUnaryCall<unknown, unknown>): ServerHttp2Stream | undefined {
  const stream = (call as unknown as { call?: { stream?: unknown } }).call?.stream;
  return isHttp2Stream(stream) ? stream : undefined;
}

function isHttp2Stream(value: unknown): value is ServerHttp2Stream {
  return typeof value === 'object' && value !== null && 'rstCode' in value && 'sentTrailers' in value && typeof (value as { once?: unknown }).once === 'function';
}
