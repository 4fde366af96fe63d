/**
 * PreparePort through an out-of-process TypeScript provider on a unix socket
 * (two hops: load -> vifplugd -> provider), and PreparePorts through it, in
 * the same rounds as the bare floor and the built-in dummy (issue 10).
 */
import { randomUUID } from 'node:crypto';

import { RegisterRequest, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { identity, unary } from '../lib/load';
import { dummyOptions, encodePrepare } from '../lib/requests';
import { batchCase } from './batch';
import { BASELINE, POOL, TARGETS, drainer, prepareOp, unaryCase, type CaseDef, type CaseFamily } from './case';

const TYPE = 'bench-remote';

export const remoteCases: CaseFamily = {
  name: 'remote',
  async build(ctx) {
    const { started } = await ctx.startHelper<{ endpoint: string }>('remote provider', 'remote-provider.js', { type: TYPE });
    const register = VifPlugService.register;
    await unary(ctx.vifplug.clients.unix, register.path, register.requestSerialize(RegisterRequest.fromPartial({ type: TYPE, endpoint: started.endpoint })), identity);
    const instanceId = await ctx.open(TYPE);
    const pool = Array.from({ length: POOL }, () => encodePrepare(instanceId, randomUUID(), dummyOptions()));
    // The provider answers as the dummy does: the same reply size, the same floor.
    ctx.details['replyBytes'] = (await ctx.realReply(pool[0]!)).length;
    const kept: string[] = [];
    const cases: CaseDef[] = [
      unaryCase({
        id: 'prepare.remote',
        label: 'PreparePort remote TS provider (unix)',
        server: ctx.vifplug,
        baseline: BASELINE,
        op: prepareOp(pool, kept),
        drain: drainer(ctx.vifplug, kept),
        target: (c) => (c === 1 ? TARGETS.remoteLatency : TARGETS.remoteThroughput),
        against: { id: 'prepare.dummy', label: 'in-process dummy', target: (c) => (c === 1 ? TARGETS.remoteVsDummy : undefined) },
      }),
    ];
    for (const n of ctx.options.batchSizes.filter((size) => size > 1)) {
      cases.push(
        await batchCase(ctx, { id: `batch.remote.${n}`, label: `PreparePorts x${n} remote TS provider, per port`, instanceId, n, target: n === 128 ? TARGETS.remoteBatch : undefined }),
      );
    }
    return { cases, skipped: [] };
  },
};
