/**
 * Memory per live ctx, in a process of its own (--expose-gc): the server's
 * PreparePort handler (vifPlugHandlers, what VifplugServer calls after grpc-js
 * decoded the request) over a Registry with the dummy provider, fed decoded
 * requests as the server gets them. heapUsed after a full GC, before and
 * after `count` live ctxs, divided by `count`.
 */
import { randomUUID } from 'node:crypto';

import { OpType, PreparePortRequest } from '../../src/gen/vifplug/v1/vifplug';
import { dummyProvider } from '../../src/providers/dummy/dummy';
import { Registry } from '../../src/registry';
import { vifPlugHandlers } from '../../src/server/vifplug-service';
import { Metadata } from '@grpc/grpc-js';

import { serveParent } from '../lib/ipc';

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
};

export interface CtxMemoryResult {
  readonly count: number;
  readonly liveCtxs: number;
  readonly heapUsedBefore: number;
  readonly heapUsedAfter: number;
  readonly bytesPerCtx: number;
  readonly rssDelta: number;
  readonly seconds: number;
}

serveParent({
  async run(arg: { count: number }): Promise<CtxMemoryResult> {
    const registry = new Registry({ builtins: new Map([['dummy', dummyProvider]]) });
    await registry.register('dummy');
    const { instanceId } = await registry.open('dummy');
    const handlers = vifPlugHandlers(registry);
    // What a handler may read of grpc-js's ServerUnaryCall: a 5 s deadline, not cancelled.
    const call = (): never =>
      ({
        getDeadline: () => Date.now() + 5000,
        cancelled: false,
        metadata: new Metadata(),
        getPeer: () => 'unix:bench',
        getPath: () => '/vifplug.v1.VifPlug/PreparePort',
      }) as never;
    const encode = (i: number): Uint8Array =>
      PreparePortRequest.encode(
        PreparePortRequest.fromPartial({
          instanceId,
          opType: OpType.OP_TYPE_CREATE,
          lportName: randomUUID(),
          lportOptions: new Map([
            ['vif-plug-type', 'dummy'],
            ['vif-plug-mtu-request', String(1400 + (i % 200))],
          ]),
        }),
      ).finish();
    // Warm up the path so that compiled code is not counted as ctx memory.
    for (let i = 0; i < 2000; i++) {
      const res = await handlers.preparePort(PreparePortRequest.decode(encode(i)), call());
      await registry.destroyCtx(res.ctxId);
    }
    gc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    for (let i = 0; i < arg.count; i++) {
      const res = await handlers.preparePort(PreparePortRequest.decode(encode(i)), call());
      if (!res.plug) throw new Error('dummy declined');
    }
    const seconds = (performance.now() - t0) / 1000;
    // Each call left a check for its caller's delivery on the next turn of the
    // event loop (src/grpc/delivery.ts; without a grpc-js stream it looks at
    // the call's cancelled flag then). A server turns the loop between calls;
    // this loop never did, so let those checks run: they are not ctx memory.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const after = process.memoryUsage();
    const liveCtxs = registry.stats().ctxs;
    if (liveCtxs !== arg.count) throw new Error(`expected ${arg.count} live ctxs, registry has ${liveCtxs}`);
    return {
      count: arg.count,
      liveCtxs,
      heapUsedBefore: before.heapUsed,
      heapUsedAfter: after.heapUsed,
      bytesPerCtx: (after.heapUsed - before.heapUsed) / arg.count,
      rssDelta: after.rss - before.rss,
      seconds,
    };
  },
});
