/**
 * The cross-check's client, written as someone outside the project would
 * measure vifplugd: a @grpc/proto-loader stub calling PreparePort with plain
 * request objects (encoded per call), against a vifplugd process and a
 * zero-work server answering canned bytes, in alternating blocks (daemon,
 * floor, floor, daemon, ...). It shares nothing with the bench's load
 * generator, requests, servers or statistics: it imports grpc-js,
 * proto-loader and Node only.
 *
 *   node client.js capture PROTO_DIR TARGET   one PreparePort reply of the daemon, as hex: the floor's canned bytes
 *   node client.js run CONFIG_JSON            the blocks (see RunConfig); one JSON line of results on stdout
 *
 * Ctxs the daemon creates are released between blocks (DestroyCtxs), outside
 * the timing.
 */
import { randomUUID } from 'node:crypto';

import { Client, credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export interface RunConfig {
  readonly protoDir: string;
  /** vifplugd's target (unix:///... or 127.0.0.1:port). */
  readonly daemon: string;
  /** The canned-bytes server's target, same transport. */
  readonly floor: string;
  /** Loops of calls in flight. */
  readonly concurrency: number;
  readonly blockMs: number;
  /**
   * Unmeasured blocks on each server first, of warmupMs each, until the
   * client has made warmupCalls calls to it (at most warmupMaxMs): both
   * servers and this client start cold, and V8 takes thousands of calls to
   * optimize a gRPC call's path.
   */
  readonly warmupMs: number;
  readonly warmupCalls: number;
  readonly warmupMaxMs: number;
  /** Each round is one block on each server, the order swapped every round. */
  readonly rounds: number;
}

export interface Block {
  readonly server: 'daemon' | 'floor';
  readonly round: number;
  readonly calls: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly callsPerSec: number;
  /** This client's CPU use over the block, as a fraction of one CPU. */
  readonly clientUtil: number;
}

export interface RunResult {
  readonly blocks: Block[];
  readonly firstError?: string;
}

type Callback<T> = (err: ServiceError | null, value?: T) => void;
interface VifPlugStub extends Client {
  Open(request: { type: string }, callback: Callback<{ instanceId: string }>): void;
  PreparePort(request: object, callback: Callback<{ ctxId: string; plug: boolean }>): void;
  DestroyCtxs(request: { ctxIds: string[] }, callback: Callback<object>): void;
}
type StubClass = new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => VifPlugStub;

function load(protoDir: string): { Stub: StubClass; definition: ReturnType<typeof loadSync> } {
  const definition = loadSync('vifplug/v1/vifplug.proto', { includeDirs: [protoDir] });
  const pkg = loadPackageDefinition(definition) as unknown as { vifplug: { v1: { VifPlug: StubClass } } };
  return { Stub: pkg.vifplug.v1.VifPlug, definition };
}

/** Closes the channel: a stub's own `close` is the Close RPC (proto-loader also names methods in lowerCamelCase). */
function hangUp(stub: Client): void {
  stub.getChannel().close();
}

function call<T>(f: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, value) => (err ? reject(err) : resolve(value!))));
}

function ready(stub: Client, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stub.waitForReady(Date.now() + 15_000, (err) => (err ? reject(new Error(`cannot reach ${target}: ${err.message}`)) : resolve()));
  });
}

/** What OVN asks vifplugd for a port plugged by the dummy provider. */
function requests(instanceId: string, n: number): object[] {
  return Array.from({ length: n }, () => ({
    instanceId,
    opType: 'OP_TYPE_CREATE',
    lportName: randomUUID(),
    lportOptions: { 'vif-plug-type': 'dummy', 'vif-plug-mtu-request': '1500' },
  }));
}

async function capture(protoDir: string, target: string): Promise<string> {
  const { Stub, definition } = load(protoDir);
  const stub = new Stub(target, credentials.createInsecure());
  await ready(stub, target);
  const { instanceId } = await call<{ instanceId: string }>((cb) => stub.Open({ type: 'dummy' }, cb));
  const method = (definition['vifplug.v1.VifPlug'] as Record<string, { path: string; requestSerialize(v: object): Buffer }>)['PreparePort']!;
  const request = method.requestSerialize(requests(instanceId, 1)[0]!);
  // The reply as bytes, as the daemon sent them.
  const reply = await call<Buffer>((cb) => stub.makeUnaryRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, request, cb));
  const { ctxId } = (method as unknown as { responseDeserialize(b: Buffer): { ctxId: string } }).responseDeserialize(reply);
  await call((cb) => stub.DestroyCtxs({ ctxIds: [ctxId] }, cb));
  hangUp(stub);
  return reply.toString('hex');
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function run(config: RunConfig): Promise<RunResult> {
  const { Stub } = load(config.protoDir);
  const daemon = new Stub(config.daemon, credentials.createInsecure());
  const floor = new Stub(config.floor, credentials.createInsecure());
  await Promise.all([ready(daemon, config.daemon), ready(floor, config.floor)]);
  const { instanceId } = await call<{ instanceId: string }>((cb) => daemon.Open({ type: 'dummy' }, cb));
  const pool = requests(instanceId, 1024);
  const ctxs: string[] = [];
  let firstError: string | undefined;

  const block = async (server: 'daemon' | 'floor', round: number, ms: number): Promise<Block> => {
    const stub = server === 'daemon' ? daemon : floor;
    let lat = new Float64Array(1 << 16);
    let calls = 0;
    let errors = 0;
    let next = 0;
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    const loop = async (): Promise<void> => {
      while (process.hrtime.bigint() < end && errors <= 100) {
        const t0 = process.hrtime.bigint();
        try {
          const res = await call<{ ctxId: string; plug: boolean }>((cb) => stub.PreparePort(pool[next++ & 1023]!, cb));
          if (server === 'daemon') {
            if (!res.plug) throw new Error('PreparePort did not plug');
            ctxs.push(res.ctxId);
          }
        } catch (err) {
          errors++;
          firstError ??= `${server}: ${err instanceof Error ? err.message : String(err)}`;
          continue;
        }
        if (calls === lat.length) {
          const grown = new Float64Array(lat.length * 2);
          grown.set(lat);
          lat = grown;
        }
        lat[calls++] = Number(process.hrtime.bigint() - t0) / 1000;
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, loop));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const sorted = lat.subarray(0, calls).sort();
    // Released outside the timing, so the daemon's ctx table does not grow over the run.
    while (ctxs.length > 0) {
      const ctxIds = ctxs.splice(0, 1024);
      await call((cb) => daemon.DestroyCtxs({ ctxIds }, cb));
    }
    return {
      server,
      round,
      calls,
      errors,
      seconds,
      p50Us: quantile(sorted, 0.5),
      p99Us: quantile(sorted, 0.99),
      callsPerSec: calls / seconds,
      clientUtil: (cpu.user + cpu.system) / 1e6 / seconds,
    };
  };

  for (const server of ['daemon', 'floor'] as const) {
    const t0 = performance.now();
    let calls = 0;
    do calls += (await block(server, -1, config.warmupMs)).calls;
    while (calls < config.warmupCalls && performance.now() - t0 < config.warmupMaxMs);
  }
  const blocks: Block[] = [];
  for (let round = 0; round < config.rounds; round++) {
    const order: ('daemon' | 'floor')[] = round % 2 === 0 ? ['daemon', 'floor'] : ['floor', 'daemon'];
    for (const server of order) blocks.push(await block(server, round, config.blockMs));
  }
  hangUp(daemon);
  hangUp(floor);
  return { blocks, ...(firstError === undefined ? {} : { firstError }) };
}

const [command, ...args] = process.argv.slice(2);
const main = command === 'capture' ? capture(args[0]!, args[1]!).then((hex) => ({ reply: hex })) : command === 'run' ? run(JSON.parse(args[0]!) as RunConfig) : undefined;
if (main === undefined) {
  process.stderr.write('usage: client.js capture PROTO_DIR TARGET | client.js run CONFIG_JSON\n');
  process.exit(2);
}
main.then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`outside client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
