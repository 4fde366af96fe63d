/**
 * What a gRPC bench case is, and what a family of cases gets to build its
 * cases with. A case is an operation measured against a baseline in the same
 * rounds (suites/grpc.ts runs them); a family is one module of this directory
 * listed in index.ts. To add cases: write a module exporting a CaseFamily and
 * add it to FAMILIES; nothing else changes.
 */
import type { Client } from '@grpc/grpc-js';

import { PreparePortResponse, FinishPortRequest, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';
import type { Child } from '../lib/ipc';
import { unary, identity, type Op } from '../lib/load';
import type { Row, Target } from '../lib/report';
import type { BenchHost } from '../lib/hosts';

export type Transport = 'unix' | 'tcp';

/** A server process the load generator calls, over both transports. */
export interface Server {
  readonly name: string;
  readonly child: Child;
  readonly clients: Record<Transport, Client>;
}

export interface GrpcOptions {
  /** Measured windows per case and group, alternating the cases. */
  readonly rounds: number;
  readonly windowMs: number;
  /**
   * Unmeasured warm-up of each case before the rounds of every group: one
   * window of warmupMs; the first time a case runs, as many as it takes to
   * make warmupCalls calls (ports, for a batch; at most warmupMaxMs). A fresh
   * server process needs thousands of calls before V8 has optimized its hot
   * path (a bare grpc-js server on the shared 2-core machine: 400-550 µs of
   * CPU per call over its first 1,000 calls, ~125 µs after 5,000), and the
   * floors, called in one window of a round, would otherwise spend the first
   * group getting there.
   */
  readonly warmupMs: number;
  readonly warmupCalls: number;
  readonly warmupMaxMs: number;
  readonly transports: readonly Transport[];
  /** Loops of calls in flight: 1 for latency, more for throughput. */
  readonly concurrencies: readonly number[];
  /** Ports per PreparePorts call. */
  readonly batchSizes: readonly number[];
  /** The host for the representor case, when one was written. */
  readonly representorHost: BenchHost | undefined;
  /** Extra node flags for the server processes (profiling). */
  readonly serverExecArgv?: readonly string[];
  /** Only these case ids (profiling). */
  readonly only?: readonly string[];
  /** The outside client's cross-check of PreparePort dummy after each group (bench/outside/); off when absent. */
  readonly outside?: { readonly rounds: number; readonly blockMs: number };
  readonly log: (line: string) => void;
}

/** How a case's figures are computed: per call, per call of a 3-call cycle, or per port of a batch. */
export type Kind = 'unary' | 'cycle' | 'batch';

export interface CaseDef {
  readonly id: string;
  readonly label: string;
  readonly server: Server;
  /** The id of the case this one is compared to (a baseline compares to itself). */
  readonly baseline: string;
  readonly kind: Kind;
  readonly callsPerOp: number;
  readonly portsPerOp: number;
  readonly unixOnly: boolean;
  /** One operation on `client`; the load generator runs it in loops. */
  op(client: Client): Op;
  /** Releases what a window left behind (ctxs), outside the timing. */
  drain?(): Promise<void>;
  target(concurrency: number): Target | undefined;
  /**
   * A second figure: this case against another case measured in the same
   * rounds and transport (median of the per-round ratios), as a row of its
   * own, e.g. a remote provider against the built-in dummy.
   */
  readonly against?: Against;
}

/** The other case a case is also compared to, and the target of that ratio. */
export interface Against {
  readonly id: string;
  /** How the other case reads in the row's name, e.g. "in-process dummy". */
  readonly label: string;
  target(concurrency: number): Target | undefined;
}

/** What a family builds its cases with. */
export interface CaseContext {
  readonly options: GrpcOptions;
  /** The vifplug server (dummy registered; representor too when options.representorHost is set). */
  readonly vifplug: Server;
  /** How registering the representor provider went, when it was asked for. */
  readonly representor: { readonly ok: true; readonly initMs: number } | { readonly ok: false; readonly why: string } | undefined;
  /** Opens (or gets) the instance of `type` on the vifplug server. */
  open(type: string): Promise<string>;
  /** The bytes vifplug answers `request` (a PreparePort) with; the ctx is released. */
  realReply(request: Buffer): Promise<Buffer>;
  /**
   * Forks bench/servers/<script> (a process the cases need but do not call,
   * such as a remote provider) and starts it with `arg` plus the run's
   * temporary `dir`; it is garbage-collected before every window and stopped
   * at the end like the servers.
   */
  startHelper<T>(name: string, script: string, arg: Record<string, unknown>): Promise<{ readonly child: Child; readonly started: T }>;
  /** A bare grpc-js server answering PreparePort with `reply`: the floor a vifplug case is compared to. */
  startBare(name: string, reply: Buffer): Promise<Server>;
  /** Figures for the JSON details, under the family's name. */
  readonly details: Record<string, unknown>;
}

export interface FamilyResult {
  readonly cases: readonly CaseDef[];
  /** Rows for cases that could not run, saying why. */
  readonly skipped: readonly Row[];
}

export interface CaseFamily {
  readonly name: string;
  build(ctx: CaseContext): Promise<FamilyResult>;
}

export const TARGETS = {
  latency: { text: '<= 1.15x', on: 'ratio', max: 1.15 },
  throughput: { text: '>= 0.90x', on: 'ratio', min: 0.9 },
  batch: { text: '<= 0.10x', on: 'ratio', max: 0.1 },
  /** Two hops (controller -> vifplugd -> remote provider), issue 10. */
  remoteLatency: { text: '<= 2.2x', on: 'ratio', max: 2.2 },
  remoteThroughput: { text: '>= 0.45x', on: 'ratio', min: 0.45 },
  remoteBatch: { text: '<= 0.15x', on: 'ratio', max: 0.15 },
  /** The remote TypeScript provider against the in-process dummy, same run and transport, concurrency 1 (issue 19). */
  remoteVsDummy: { text: '<= 1.5x dummy', on: 'ratio', max: 1.5 },
} satisfies Record<string, Target>;

/** The latency target at concurrency 1, the throughput target above. */
export const perConcurrency = (c: number): Target => (c === 1 ? TARGETS.latency : TARGETS.throughput);

export const PREPARE = VifPlugService.preparePort.path;
export const FINISH = VifPlugService.finishPort.path;
export const DESTROY = VifPlugService.destroyCtx.path;
/** Distinct requests per case, used in turn. */
export const POOL = 1024;
/** The id of the floor every dummy-sized case compares to. */
export const BASELINE = 'baseline';

/** PreparePort with requests from `pool`; ctx ids are kept for drain() when `keep`. */
export function prepareOp(pool: readonly Buffer[], keep: string[] | undefined): (client: Client) => Op {
  return (client) => {
    let i = 0;
    return async () => {
      const res = await unary(client, PREPARE, pool[i++ & (POOL - 1)]!, PreparePortResponse.decode);
      if (!res.plug || res.ctxId === '') throw new Error(`PreparePort did not plug: ${res.declineReason} ${res.declineMessage}`);
      keep?.push(res.ctxId);
    };
  };
}

/** PreparePort, FinishPort, DestroyCtx: the whole life of a ctx. */
export function cycleOp(pool: readonly Buffer[]): (client: Client) => Op {
  return (client) => {
    let i = 0;
    return async () => {
      const res = await unary(client, PREPARE, pool[i++ & (POOL - 1)]!, PreparePortResponse.decode);
      if (!res.plug || res.ctxId === '') throw new Error(`PreparePort did not plug: ${res.declineReason} ${res.declineMessage}`);
      // FinishPortRequest and DestroyCtxRequest are both {ctx_id = 1}: one encoding serves both.
      const byId = Buffer.from(FinishPortRequest.encode({ ctxId: res.ctxId }).finish());
      await unary(client, FINISH, byId, identity);
      await unary(client, DESTROY, byId, identity);
    };
  };
}

/** Releases the ctxs in `ids` through the server's IPC, between windows. */
export function drainer(server: Server, ids: string[]): () => Promise<void> {
  return async () => {
    while (ids.length > 0) await server.child.call('destroyCtxs', ids.splice(0, 20_000));
  };
}

/**
 * The floor of a vifplug case: a bare server sending back the bytes vifplug
 * answers `request` with, so that reply sizes match. Records both sizes.
 */
export async function floorFor(ctx: CaseContext, name: string, request: Buffer): Promise<Server> {
  const reply = await ctx.realReply(request);
  ctx.details['replyBytes'] = reply.length;
  ctx.details['requestBytes'] = request.length;
  return ctx.startBare(name, reply);
}

/** The common fields of a unary PreparePort-like case. */
export function unaryCase(fields: Pick<CaseDef, 'id' | 'label' | 'server' | 'baseline' | 'op' | 'target'> & Partial<CaseDef>): CaseDef {
  return { kind: 'unary', callsPerOp: 1, portsPerOp: 1, unixOnly: false, ...fields };
}
