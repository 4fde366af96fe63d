/**
 * PreparePort through an out-of-process provider built with the Python SDK
 * (python/; two hops: load -> vifplugd -> provider, which announces
 * PortStream, so a port alone travels as a message of one long-lived
 * stream), compared in the same rounds with the built-in dummy's PreparePort
 * (issue 19: reported, no target).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';

import { RegisterRequest, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import { identity, unary } from '../lib/load';
import { skippedRow } from '../lib/report';
import { dummyOptions, encodePrepare } from '../lib/requests';
import { POOL, drainer, prepareOp, unaryCase, type CaseFamily } from './case';

const TYPE = 'bench-python';
/** Debian's python3, with its python3-grpcio and python3-protobuf. */
const PYTHON = '/usr/bin/python3';
const LABEL = 'PreparePort remote Python SDK provider (unix), vs dummy';
/** The dummy family's PreparePort case: the ratio is to the in-process provider. */
const DUMMY = 'prepare.dummy';

export const pythonCases: CaseFamily = {
  name: 'python',
  async build(ctx) {
    if (!existsSync(PYTHON)) return { cases: [], skipped: [skippedRow('grpc', LABEL, `${PYTHON} is missing (Debian: python3-grpcio python3-protobuf)`)] };
    const { started } = await ctx.startHelper<{ endpoint: string; pid: number }>('Python provider', 'python-provider.js', { type: TYPE, python: PYTHON });
    const register = VifPlugService.register;
    await unary(ctx.vifplug.clients.unix, register.path, register.requestSerialize(RegisterRequest.fromPartial({ type: TYPE, endpoint: started.endpoint })), identity);
    const instanceId = await ctx.open(TYPE);
    const pool = Array.from({ length: POOL }, () => encodePrepare(instanceId, randomUUID(), dummyOptions()));
    ctx.details['replyBytes'] = (await ctx.realReply(pool[0]!)).length;
    ctx.details['pythonPid'] = started.pid;
    const kept: string[] = [];
    return {
      cases: [unaryCase({ id: 'prepare.python', label: LABEL, server: ctx.vifplug, baseline: DUMMY, op: prepareOp(pool, kept), drain: drainer(ctx.vifplug, kept), target: () => undefined })],
      skipped: [],
    };
  },
};
