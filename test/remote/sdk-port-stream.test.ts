import { join } from 'node:path';

import { Client, credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { afterEach, expect, it, vi } from 'vitest';

import { OpType, PreparePortRequest, ProviderService, type PortStreamRequest, type PortStreamResponse } from '../../src/gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../../src/registry';
import { serveProvider, type ServedProvider } from '../../src/sdk';
import { tempDir } from '../helpers/server';

// The SDK's end of a PortStream, driven by a client written here on bare
// grpc-js: each call's budget carries the time vifplugd gave it, and is
// aborted by a `cancel` or by that time running out, as a unary call's is by
// its gRPC deadline.

let dir: ReturnType<typeof tempDir> | undefined;
let served: ServedProvider | undefined;
let client: Client | undefined;

afterEach(async () => {
  client?.close();
  await served?.close();
  dir?.remove();
});

interface Held {
  readonly lport: string;
  readonly budget: CallBudget;
  readonly seenAt: number;
  aborted: boolean;
}

async function start(): Promise<{ held: Held[]; stream: ClientDuplexStream<PortStreamRequest, PortStreamResponse>; answers: PortStreamResponse[] }> {
  dir = tempDir('vifplug-sdk-stream-');
  const held: Held[] = [];
  // "answer-*" lports are answered at once; the others wait until their budget aborts, then answer anyway.
  served = await serveProvider(
    {
      type: 'streamed',
      preparePort: (ctxIn, budget) => {
        if (ctxIn.lportName.startsWith('answer')) return { plug: true, out: { name: ctxIn.lportName, type: '', ifaceOptions: new Map() } };
        const h: Held = { lport: ctxIn.lportName, budget, seenAt: Date.now(), aborted: false };
        held.push(h);
        return new Promise((resolve) =>
          budget.onAbort(() => {
            h.aborted = true;
            resolve({ plug: true, out: { name: `${ctxIn.lportName}-too-late`, type: '', ifaceOptions: new Map() } });
          }),
        );
      },
    },
    { socket: join(dir.path, 'p.sock') },
  );
  client = new Client(served.endpoint, credentials.createInsecure());
  const method = ProviderService.portStream;
  const stream = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
  const answers: PortStreamResponse[] = [];
  stream.on('data', (msg: PortStreamResponse) => answers.push(msg));
  stream.on('error', () => undefined);
  return { held, stream, answers };
}

const prepare = (id: number, lport: string, timeoutMs: number): PortStreamRequest => ({
  id,
  kind: {
    $case: 'prepare',
    value: {
      request: PreparePortRequest.fromPartial({ instanceId: 'i', ctxIn: { opType: OpType.OP_TYPE_CREATE, lportName: lport } }),
      timeoutMs,
    },
  },
});

it("gives each call the time vifplugd sent as its budget's deadline, and aborts it on `cancel` without answering", async () => {
  const { held, stream, answers } = await start();
  const sentAt = Date.now();
  stream.write(prepare(7, 'held', 60_000));
  await vi.waitFor(() => expect(held).toHaveLength(1), { timeout: 5000 });
  const [h] = held;
  expect(h!.budget.deadline).toBeGreaterThanOrEqual(sentAt + 60_000);
  expect(h!.budget.deadline).toBeLessThanOrEqual(h!.seenAt + 60_000);
  expect(h!.aborted).toBe(false);

  stream.write({ id: 7, kind: { $case: 'cancel', value: {} } });
  await vi.waitFor(() => expect(h!.aborted).toBe(true), { timeout: 5000 });
  // A later call on the same stream is answered; the cancelled one never is, though its callback answered.
  stream.write(prepare(8, 'answer-8', 60_000));
  await vi.waitFor(() => expect(answers.map((a) => a.id)).toContain(8), { timeout: 5000 });
  expect(answers.map((a) => a.id)).toEqual([8]);
  stream.end();
});

it('aborts a call whose time runs out without a `cancel`, and does not answer it', async () => {
  const { held, stream, answers } = await start();
  stream.write(prepare(1, 'held', 200));
  await vi.waitFor(() => expect(held).toHaveLength(1), { timeout: 5000 });
  await vi.waitFor(() => expect(held[0]!.aborted).toBe(true), { timeout: 5000 });
  expect(Date.now()).toBeGreaterThanOrEqual(held[0]!.budget.deadline);
  stream.write(prepare(2, 'answer-2', 60_000));
  await vi.waitFor(() => expect(answers.map((a) => a.id)).toContain(2), { timeout: 5000 });
  expect(answers.map((a) => a.id)).toEqual([2]);
  stream.end();
});
