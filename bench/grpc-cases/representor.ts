/**
 * The representor provider's PreparePort on a large host (16,384
 * representors), against its own bare server sending a representor-sized
 * reply. Every request is checked to plug the representor it names first.
 */
import { randomUUID } from 'node:crypto';

import { PreparePortResponse } from '../../src/gen/vifplug/v1/vifplug';
import { pickPorts, representorOptions } from '../lib/hosts';
import { unary } from '../lib/load';
import { skippedRow } from '../lib/report';
import { encodePrepare } from '../lib/requests';
import { POOL, PREPARE, TARGETS, drainer, floorFor, perConcurrency, prepareOp, unaryCase, type CaseFamily } from './case';

export const representorCases: CaseFamily = {
  name: 'representor',
  async build(ctx) {
    const host = ctx.options.representorHost;
    const label = `PreparePort representor ${(host?.representors ?? 16384).toLocaleString('en-US')}`;
    const skipped = (why: string) => ({ cases: [], skipped: [skippedRow('grpc', label, why, TARGETS.latency)] });
    if (host === undefined) return skipped('no fake host was written (--only without index or grpc)');
    if (ctx.representor === undefined || !ctx.representor.ok) return skipped(ctx.representor?.why ?? 'the representor provider is not registered');
    ctx.details['initMs'] = Math.round(ctx.representor.initMs * 10) / 10;
    const reprId = await ctx.open('representor');
    const picks = pickPorts(host, POOL, 7);
    const pool = picks.map((p) => encodePrepare(reprId, randomUUID(), representorOptions(p)));
    for (let i = 0; i < POOL; i++) {
      const res = await unary(ctx.vifplug.clients.unix, PREPARE, pool[i]!, PreparePortResponse.decode);
      if (res.name !== picks[i]!.netdev) return skipped(`representor case failed its checks: PreparePort answered ${res.name} for ${picks[i]!.netdev}`);
      await ctx.vifplug.child.call('destroyCtxs', [res.ctxId]);
    }
    const bare = await floorFor(ctx, 'bare-repr', pool[0]!);
    const kept: string[] = [];
    return {
      cases: [
        unaryCase({ id: 'baseline.repr', label: 'baseline: bare grpc-js, representor-sized reply', server: bare, baseline: 'baseline.repr', op: prepareOp(pool, undefined), target: () => undefined }),
        unaryCase({
          id: 'prepare.repr',
          label,
          server: ctx.vifplug,
          baseline: 'baseline.repr',
          op: prepareOp(pool, kept),
          drain: drainer(ctx.vifplug, kept),
          target: perConcurrency,
        }),
      ],
      skipped: [],
    };
  },
};
