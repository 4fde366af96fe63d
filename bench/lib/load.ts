/**
 * The load generator: unary calls through grpc-js's Client (what VifplugClient
 * uses), with pre-encoded requests, empty metadata and a 5 s deadline per
 * call as VifplugClient sends them. A window runs `concurrency` loops, each
 * issuing one operation at a time, for a fixed duration.
 */
import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';

export type Op = () => Promise<void>;

export const identity = (b: Buffer): Buffer => b;

const DEADLINE_MS = 5_000;

export function connect(target: string): Promise<Client> {
  const client = new Client(target, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(new Error(`cannot reach ${target}: ${err.message}`)) : resolve(client)));
  });
}

export function unary<T>(client: Client, path: string, request: Buffer, decode: (b: Buffer) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, identity, decode, request, new Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err: ServiceError | null, res?: T) =>
      err ? reject(err) : resolve(res!),
    );
  });
}

export interface Window {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly elapsedNs: number;
  /** Latency of each operation, ns. */
  readonly latNs: Float64Array;
}

/** Runs `op` from `concurrency` loops for `durationMs`; the window ends when the last operation does. */
export async function runWindow(op: Op, concurrency: number, durationMs: number): Promise<Window> {
  let lat = new Float64Array(1 << 16);
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(durationMs * 1e6));
  const loop = async (): Promise<void> => {
    for (;;) {
      const t0 = process.hrtime.bigint();
      if (t0 >= end) return;
      try {
        await op();
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 100) return;
        continue;
      }
      if (ops === lat.length) {
        const grown = new Float64Array(lat.length * 2);
        grown.set(lat);
        lat = grown;
      }
      lat[ops++] = Number(process.hrtime.bigint() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedNs = Number(process.hrtime.bigint() - start);
  return { ops, errors, ...(firstError === undefined ? {} : { firstError }), elapsedNs, latNs: lat.subarray(0, ops) };
}
