/** PreparePorts at several batch sizes, per port, against one bare unary call (the dummy baseline). */
import { randomUUID } from 'node:crypto';

import type { Client } from '@grpc/grpc-js';

import { OpType, PreparePortsRequest, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { unary } from '../lib/load';
import { dummyOptions } from '../lib/requests';
import type { Target } from '../lib/report';
import { BASELINE, TARGETS, drainer, type CaseContext, type CaseDef, type CaseFamily } from './case';

const PREPARE_PORTS = VifPlugService.preparePorts;

export const batchCases: CaseFamily = {
  name: 'batch',
  async build(ctx) {
    const dummyId = await ctx.open('dummy');
    const cases: CaseDef[] = [];
    for (const n of ctx.options.batchSizes) {
      cases.push(await batchCase(ctx, { id: `batch.${n}`, label: `PreparePorts x${n} dummy, per port`, instanceId: dummyId, n, target: n === 128 ? TARGETS.batch : undefined }));
    }
    return { cases, skipped: [] };
  },
};

/** PreparePorts of `n` ports on `instanceId`, per port, against one bare unary call. */
export async function batchCase(
  ctx: CaseContext,
  c: { readonly id: string; readonly label: string; readonly instanceId: string; readonly n: number; readonly target: Target | undefined },
): Promise<CaseDef> {
  const { n } = c;
  const pool = Array.from({ length: 64 }, () => encodeBatch(c.instanceId, n));
  // Correctness first: every port of a call is prepared.
  await ctx.vifplug.child.call('destroyCtxs', await preparedIds(ctx.vifplug.clients.unix, pool[0]!, n));
  const ids: string[] = [];
  return {
    id: c.id,
    label: c.label,
    server: ctx.vifplug,
    baseline: BASELINE,
    kind: 'batch',
    callsPerOp: 1,
    portsPerOp: n,
    unixOnly: true,
    op: (client) => {
      let i = 0;
      return async () => {
        for (const id of await preparedIds(client, pool[i++ & 63]!, n)) ids.push(id);
      };
    },
    drain: drainer(ctx.vifplug, ids),
    target: () => c.target,
  };
}

function encodeBatch(instanceId: string, n: number): Buffer {
  const ports = Array.from({ length: n }, () => ({ opType: OpType.OP_TYPE_CREATE, lportName: randomUUID(), lportOptions: dummyOptions() }));
  return PREPARE_PORTS.requestSerialize(PreparePortsRequest.fromPartial({ instanceId, ports }));
}

/** The ctx ids of one PreparePorts call; throws unless all `n` ports were prepared. */
async function preparedIds(client: Client, request: Buffer, n: number): Promise<string[]> {
  const { results } = await unary(client, PREPARE_PORTS.path, request, PREPARE_PORTS.responseDeserialize);
  const ids = results.flatMap((r) => (r.result?.$case === 'prepared' && r.result.value.plug ? [r.result.value.ctxId] : []));
  if (ids.length !== n) throw new Error(`PreparePorts prepared ${ids.length} of ${n} ports`);
  return ids;
}

