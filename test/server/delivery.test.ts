/**
 * onUndelivered against the grpc-js this project ships, over a real socket:
 * it must find the HTTP/2 stream under a unary call (grpc-js internals: if an
 * upgrade moves it, the first test fails rather than the daemon silently
 * falling back to the cancelled flag), stay quiet for an answer that arrived,
 * and release for a caller that cancelled or whose deadline passed before the
 * answer was ready.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  status,
  type Client,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

import { onUndelivered, type DeliveryWatch } from '../../src/grpc/delivery';

const bytes = {
  path: '/test.Echo/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
} as const;
const ECHO = { echo: bytes };

type EchoClient = Client & { echo(req: Buffer, options: { deadline?: number }, cb: (err: ServiceError | null, res?: Buffer) => void): { cancel(): void } };

interface Answered {
  readonly watch: DeliveryWatch;
  readonly released: () => number;
}

let dir: string;
let server: Server;
let client: EchoClient;
/** What the handler does with each call: answer at once, or when the test says. */
let hold: ((call: ServerUnaryCall<Buffer, Buffer>) => Promise<void>) | undefined;
const answered: Answered[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vifplug-delivery-'));
  server = new Server();
  server.addService(ECHO, {
    echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      void (hold?.(call) ?? Promise.resolve()).then(() => {
        let released = 0;
        const watch = onUndelivered(call, () => released++);
        answered.push({ watch, released: () => released });
        callback(null, call.request);
      });
    },
  });
  const target = `unix://${join(dir, 's.sock')}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(target, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const Echo = makeGenericClientConstructor(ECHO, 'Echo') as unknown as new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => EchoClient;
  client = new Echo(target, credentials.createInsecure());
});

afterEach(() => {
  hold = undefined;
  answered.splice(0);
  client.close();
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

function echo(options: { deadline?: number } = {}): { done: Promise<number>; cancel(): void } {
  let call: { cancel(): void } | undefined;
  const done = new Promise<number>((resolve) => {
    call = client.echo(Buffer.from('hi'), options, (err) => resolve(err ? err.code : status.OK));
  });
  return { done, cancel: () => call!.cancel() };
}

it('watches the HTTP/2 stream under a grpc-js unary call, and leaves a delivered answer alone', async () => {
  expect(await echo().done).toBe(status.OK);
  expect(await echo().done).toBe(status.OK);
  // Once the server has shut down, every stream has closed and been judged.
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  expect(answered.map((a) => a.watch)).toEqual(['stream', 'stream']);
  expect(answered.map((a) => a.released())).toEqual([0, 0]);
});

it('releases once for a caller that cancelled before the answer was ready', async () => {
  let received = false;
  hold = (call) => {
    received = true;
    return new Promise((resolve) => call.once('cancelled', () => resolve()));
  };
  const call = echo();
  await vi.waitFor(() => expect(received).toBe(true));
  call.cancel();
  expect(await call.done).toBe(status.CANCELLED);
  await vi.waitFor(() => expect(answered.map((a) => a.released())).toEqual([1]));
  expect(answered[0]!.watch).toBe('stream');
});

it('releases once for a caller whose deadline passed before the answer was ready', async () => {
  hold = (call) => new Promise((resolve) => call.once('cancelled', () => resolve()));
  expect(await echo({ deadline: Date.now() + 200 }).done).toBe(status.DEADLINE_EXCEEDED);
  await vi.waitFor(() => expect(answered.map((a) => a.released())).toEqual([1]));
  expect(answered[0]!.watch).toBe('stream');
});
