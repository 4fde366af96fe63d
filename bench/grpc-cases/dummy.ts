/** The dummy provider's PreparePort and full ctx cycle, against a bare grpc-js server sending the same reply bytes. */
import { randomUUID } from 'node:crypto';

import { dummyOptions, encodePrepare } from '../lib/requests';
import { BASELINE, POOL, cycleOp, drainer, floorFor, perConcurrency, prepareOp, unaryCase, type CaseFamily } from './case';

export const dummyCases: CaseFamily = {
  name: 'dummy',
  async build(ctx) {
    const dummyId = await ctx.open('dummy');
    // Distinct lport names (UUIDs, as OpenStack and Kubernetes name lports).
    const pool = Array.from({ length: POOL }, () => encodePrepare(dummyId, randomUUID(), dummyOptions()));
    const bare = await floorFor(ctx, 'bare', pool[0]!);
    const kept: string[] = [];
    return {
      cases: [
        unaryCase({ id: BASELINE, label: 'baseline: bare grpc-js, fixed reply', server: bare, baseline: BASELINE, op: prepareOp(pool, undefined), target: () => undefined }),
        unaryCase({
          id: 'prepare.dummy',
          label: 'PreparePort dummy',
          server: ctx.vifplug,
          baseline: BASELINE,
          op: prepareOp(pool, kept),
          drain: drainer(ctx.vifplug, kept),
          target: perConcurrency,
        }),
        unaryCase({
          id: 'cycle.dummy',
          label: 'Prepare+Finish+Destroy dummy, per call',
          server: ctx.vifplug,
          baseline: BASELINE,
          kind: 'cycle',
          callsPerOp: 3,
          op: cycleOp(pool),
          target: () => undefined,
        }),
      ],
      skipped: [],
    };
  },
};
