/**
 * The OVSDB client (src/ovsdb) against a real ovsdb-server, each case
 * alternated round by round with its floor:
 *
 * - replica load: a client that connects and loads N Port_Bindings (what the
 *   vifplug-ovn agent does at every (re)connection to the Southbound DB),
 *   against a raw JSON-RPC session that sends the same three requests as
 *   pre-encoded text and only frames and JSON.parses the replies;
 * - one transaction that adds P Port+Interface pairs to br-int (the agent's
 *   burst of plugs), while the client monitors those tables, against the raw
 *   session sending the same transaction as pre-encoded text while holding the
 *   same monitor;
 * - one modified row applied to a replica of 1,000 and of 16,000 rows: the
 *   cost of an update must not grow with the replica;
 * - framing: JsonStream + JSON.parse against JSON.parse alone, on the bytes of
 *   a replica load;
 * - retained heap per replicated Port_Binding.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { namedUuid, OvsdbClient, type Operation, type Row } from '../../src/ovsdb';
import { JsonStream } from '../../src/ovsdb/json-stream';
import { Replica } from '../../src/ovsdb/replica';
import { parseSchema } from '../../src/ovsdb/schema';
import { SCHEMAS, startOvsdbServer, type OvsdbServer } from '../../test/helpers/ovsdb-server';
import { judged, type Row as BenchRow, type Target } from '../lib/report';
import { median, round } from '../lib/stats';

export interface OvsdbSettings {
  readonly rounds: number;
  readonly portBindings: number;
  readonly ports: number;
}

const TARGETS = {
  load: { text: '<= 2.0x', on: 'ratio', max: 2 },
  transact: { text: '<= 2.0x', on: 'ratio', max: 2 },
  // A copy of the replica per update would be 16x.
  update: { text: '<= 3.0x', on: 'ratio', max: 3 },
  framing: { text: '<= 2.0x', on: 'ratio', max: 2 },
} as const satisfies Record<string, Target>;

const SB_TABLES = { Chassis: {}, Port_Binding: {} };
const PB_COLUMNS = ['logical_port', 'tunnel_key', 'datapath', 'chassis', 'requested_chassis', 'options', 'external_ids', 'up', 'mac', 'type'];

/** A JSON-RPC session with no client logic: pre-encoded requests out, framed and parsed replies in. */
class RawSession {
  private readonly stream = new JsonStream(1 << 30);
  private readonly waiting = new Map<number, (reply: unknown) => void>();
  private nextId = 0;
  private constructor(private readonly socket: import('node:net').Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.stream.push(chunk) as { id?: unknown; method?: string }[]) {
        if (m.method === 'echo') socket.write(JSON.stringify({ id: m.id, result: [], error: null }));
        else if (typeof m.id === 'number') this.waiting.get(m.id)?.(m);
      }
    });
  }

  static open(path: string): Promise<RawSession> {
    return new Promise((resolve, reject) => {
      const s = connect({ path }, () => resolve(new RawSession(s)));
      s.once('error', reject);
    });
  }

  /** `body` is the request's JSON without its id: `"method":...,"params":...`. */
  call(body: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(`{${body},"id":${id}}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const socketPath = (s: OvsdbServer) => s.unix.slice('unix:'.length);

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Wall time of `fn` in ms; its CPU time in this process (the client's share) goes to `cpu`. */
async function timed(fn: () => Promise<unknown>, cpu: number[]): Promise<number> {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return ms;
}

/** Client CPU per call, ours against the floor's, medians (the warm-up round is dropped). */
function cpuNote(floorCpu: number[], oursCpu: number[]): string {
  const m = (xs: number[]) => round(median(xs.slice(1)), 1);
  return `client CPU per call: ${m(oursCpu)} ms, floor ${m(floorCpu)} ms`;
}

/** Runs each case of a round in turn, `rounds` times; returns per-case times and per-round ratios to the first case. */
async function alternate(rounds: number, cases: (() => Promise<number>)[]): Promise<{ times: number[][]; ratios: number[][] }> {
  const times = cases.map(() => [] as number[]);
  for (let r = -1; r < rounds; r++) {
    const round = [];
    for (const c of cases) round.push(await c());
    if (r >= 0) round.forEach((t, i) => times[i]!.push(t));
  }
  return { times, ratios: cases.map((_, i) => times[i]!.map((t, r) => t / times[0]![r]!)) };
}

interface Measured {
  readonly case: string;
  readonly metric: string;
  readonly values: number[];
  readonly ratios: number[];
  readonly target: Target;
  readonly note: string;
  readonly unit?: 'ms' | 'us';
  /** Over a unix socket to the server (default), or in this process. */
  readonly inProcess?: boolean;
}

function row(m: Measured): BenchRow {
  return judged({
    suite: 'ovsdb',
    case: m.case,
    transport: m.inProcess ? 'in-process' : 'unix',
    concurrency: m.inProcess ? null : 1,
    metric: m.metric,
    unit: m.unit ?? 'ms',
    median: round(median(m.values)),
    ratio: round(median(m.ratios)),
    target: m.target,
    note: m.note,
  });
}

/** Synchronous cases run in turn, `rounds` times after one warm-up round; each timed over `reps` runs, in `scale` units per run. */
function alternateSync(rounds: number, cases: (() => void)[], reps: number, scale: number): { times: number[][]; ratios: number[] } {
  const times = cases.map(() => [] as number[]);
  for (let r = -1; r < rounds; r++) {
    cases.forEach((fn, k) => {
      gc();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) fn();
      if (r >= 0) times[k]!.push(((performance.now() - t0) / reps) * scale);
    });
  }
  return { times, ratios: times[1]!.map((t, i) => t / times[0]![i]!) };
}

async function populateSouthbound(server: OvsdbServer, n: number): Promise<void> {
  const writer = new OvsdbClient({ database: 'OVN_Southbound', remotes: server.unix, tables: {} });
  await writer.ready({ timeoutMs: 10_000 });
  await writer.transact([
    { op: 'insert', table: 'Encap', row: { type: 'geneve', ip: '192.0.2.1', chassis_name: 'hv1' }, uuidName: 'encap' },
    { op: 'insert', table: 'Chassis', row: { name: 'hv1', hostname: 'node-1', encaps: [namedUuid('encap')] }, uuidName: 'ch' },
    { op: 'insert', table: 'Datapath_Binding', row: { tunnel_key: 1 }, uuidName: 'dp' },
    ...Array.from({ length: n }, (_, i): Operation => ({
      op: 'insert',
      table: 'Port_Binding',
      row: {
        logical_port: `lsp-${i}-5f0c3a2e-8d1b-4e55-9a0e-${String(i).padStart(12, '0')}`,
        tunnel_key: i + 1,
        datapath: namedUuid('dp'),
        requested_chassis: namedUuid('ch'),
        mac: [`00:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} 10.0.${i >> 8}.${i & 255}`],
        options: { 'requested-chassis': 'hv1', 'vif-plug-type': 'representor', 'vif-plug:representor:pf-mac': '10:70:fd:df:9c:3a', 'vif-plug:representor:vf-num': String(i % 256) },
        external_ids: { 'neutron:device_owner': 'compute:nova', 'neutron:port_name': `port-${i}` },
      },
    })),
  ]);
  await writer.close();
}

async function loadCase(server: OvsdbServer, n: number, rounds: number, log: (s: string) => void): Promise<{ rows: BenchRow[]; details: unknown; loadBytes: Buffer }> {
  const monitorRequest = JSON.stringify({ Chassis: [{ columns: ['name', 'hostname', 'encaps', 'external_ids', 'other_config', 'nb_cfg', 'transport_zones', 'vtep_logical_switches'] }], Port_Binding: [{ columns: PB_COLUMNS }] });
  const requests = [
    '"method":"get_schema","params":["_Server"]',
    '"method":"monitor_cond","params":["_Server",["monid","_Server"],{"Database":[{"columns":["name","model","connected","leader","schema","cid","index"]}]}]',
    `"method":"monitor_cond","params":["OVN_Southbound",["monid","OVN_Southbound"],${monitorRequest}]`,
  ];
  const rawLoad = async (): Promise<unknown> => {
    const raw = await RawSession.open(socketPath(server));
    let reply: unknown;
    for (const r of requests) reply = await raw.call(r);
    raw.close();
    return reply;
  };
  const floorCpu: number[] = [];
  const oursCpu: number[] = [];
  const ours = async () =>
    timed(async () => {
      const c = new OvsdbClient({ database: 'OVN_Southbound', remotes: server.unix, tables: { Chassis: {}, Port_Binding: { columns: PB_COLUMNS } } });
      await c.ready({ timeoutMs: 30_000 });
      if (c.rows('Port_Binding').size !== n) throw new Error(`loaded ${c.rows('Port_Binding').size} Port_Bindings, expected ${n}`);
      await c.close();
    }, oursCpu);
  const floor = () => timed(rawLoad, floorCpu);
  const loadBytes = Buffer.from(JSON.stringify(await rawLoad()));
  log(`ovsdb: replica load of ${n} Port_Bindings, ${rounds} rounds`);
  const { times, ratios } = await alternate(rounds, [floor, ours]);
  const note = `floor: a raw session sending the same requests pre-encoded, framing and JSON.parse only (median ${round(median(times[0]!))} ms); reply ${(loadBytes.length / 1024).toFixed(0)} KiB; ${cpuNote(floorCpu, oursCpu)}`;
  return {
    rows: [row({ case: `replica load: ${n} Port_Bindings`, metric: 'connect to loaded replica', values: times[1]!, ratios: ratios[1]!, target: TARGETS.load, note })],
    details: { n, floorMs: times[0], oursMs: times[1] },
    loadBytes,
  };
}

const VSWITCH_TABLES = { Bridge: { columns: ['name', 'ports'] }, Port: { columns: ['name', 'interfaces', 'external_ids'] }, Interface: { columns: ['name', 'type', 'options', 'external_ids', 'mtu_request'] } };

async function transactCase(server: OvsdbServer, p: number, rounds: number, log: (s: string) => void): Promise<{ rows: BenchRow[]; details: unknown }> {
  // Sets up and clears between runs, monitoring nothing: only the measured connection gets the update notification.
  const admin = new OvsdbClient({ database: 'Open_vSwitch', remotes: server.unix, tables: {} });
  await admin.ready({ timeoutMs: 10_000 });
  const { inserted } = await admin.transact([
    { op: 'insert', table: 'Bridge', row: { name: 'br-int' }, uuidName: 'br' },
    { op: 'insert', table: 'Open_vSwitch', row: { bridges: [namedUuid('br')] } },
  ]);
  const bridge = inserted.get('br')!;
  const ops = (round: number): Operation[] => {
    const out: Operation[] = [];
    const ports = [];
    for (let i = 0; i < p; i++) {
      const name = `pf0vf${i}r${round}`;
      out.push({ op: 'insert', table: 'Interface', row: { name, type: '', mtu_request: 1500, external_ids: { 'iface-id': `lsp-${i}`, 'vifplug-ovn': 'representor' } }, uuidName: `i${i}` });
      out.push({ op: 'insert', table: 'Port', row: { name, interfaces: [namedUuid(`i${i}`)], external_ids: { 'vifplug-ovn': 'representor' } }, uuidName: `p${i}` });
      ports.push(namedUuid(`p${i}`));
    }
    out.push({ op: 'mutate', table: 'Bridge', where: [['_uuid', '==', bridge]], mutations: [['ports', 'insert', ports]] });
    return out;
  };
  const clear = () => admin.transact([{ op: 'update', table: 'Bridge', where: [['_uuid', '==', bridge]], row: { ports: [] } }]);
  let n = 0;
  const floorCpu: number[] = [];
  const oursCpu: number[] = [];
  // Each run connects and monitors the same tables first (untimed), so that both pay for the update notification.
  const ours = async () => {
    const batch = ops(n++);
    const client = new OvsdbClient({ database: 'Open_vSwitch', remotes: server.unix, tables: VSWITCH_TABLES });
    await client.ready({ timeoutMs: 10_000 });
    const ms = await timed(() => client.transact(batch), oursCpu);
    if (client.rows('Port').size !== p) throw new Error(`the replica has ${client.rows('Port').size} ports after the reply, expected ${p}`);
    await client.close();
    await clear();
    return ms;
  };
  const floor = async () => {
    const text = `"method":"transact","params":${JSON.stringify(['Open_vSwitch', ...wire(ops(n++), bridge)])}`;
    const raw = await RawSession.open(socketPath(server));
    await raw.call(`"method":"monitor_cond","params":["Open_vSwitch",["monid","raw"],${JSON.stringify(Object.fromEntries(Object.entries(VSWITCH_TABLES).map(([t, m]) => [t, [m]])))}]`);
    const ms = await timed(() => raw.call(text), floorCpu);
    raw.close();
    await clear();
    return ms;
  };
  log(`ovsdb: transactions of ${p} Port+Interface pairs, ${rounds} rounds`);
  const { times, ratios } = await alternate(rounds, [floor, ours]);
  await admin.close();
  return {
    rows: [
      row({
        case: `transact: ${p} Port+Interface pairs in one transaction`,
        metric: 'call to reply',
        values: times[1]!,
        ratios: ratios[1]!,
        target: TARGETS.transact,
        note: `floor: the same transaction pre-encoded on a raw session holding the same monitor (median ${round(median(times[0]!))} ms); ours encodes from typed operations and applies the update to its replica; ${cpuNote(floorCpu, oursCpu)}`,
      }),
    ],
    details: { p, floorMs: times[0], oursMs: times[1] },
  };
}

/** The same operations in RFC 7047 wire form, written out by hand (the floor must not use our encoder). */
function wire(ops: Operation[], bridge: string): unknown[] {
  return ops.map((op) => {
    if (op.op === 'mutate') return { op: 'mutate', table: 'Bridge', where: [['_uuid', '==', ['uuid', bridge]]], mutations: [['ports', 'insert', ['set', (op.mutations[0]![2] as { name: string }[]).map((u) => ['named-uuid', u.name])]]] };
    if (op.op !== 'insert') throw new Error('unexpected op');
    const r = op.row as Record<string, unknown>;
    const ids = ['map', Object.entries(r.external_ids as Record<string, string>)];
    const row =
      op.table === 'Interface'
        ? { name: r.name, type: r.type, mtu_request: r.mtu_request, external_ids: ids }
        : { name: r.name, interfaces: ['named-uuid', (r.interfaces as { name: string }[])[0]!.name], external_ids: ids };
    return { op: 'insert', table: op.table, row, 'uuid-name': op.uuidName };
  });
}

function updateCase(rounds: number): { rows: BenchRow[]; details: unknown } {
  const schema = parseSchema(JSON.parse(readFileSync(SCHEMAS.sb, 'utf8')));
  const sizes = [1000, 16_000];
  const REPS = 2000;
  const replicas = sizes.map((n) => {
    const r = new Replica(schema, new Map([['Port_Binding', PB_COLUMNS]]));
    const rows: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      rows[`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`] = {
        initial: { logical_port: `lsp-${i}`, tunnel_key: i + 1, options: ['map', [['vif-plug-type', 'representor'], ['vf-num', String(i)]]] },
      };
    }
    r.apply(2, { Port_Binding: rows });
    return { n, r };
  });
  // The notifications as JSON.parse would hand them over, made outside the timing.
  const updates = replicas.map(({ n }) =>
    Array.from({ length: REPS }, (_, j) => ({
      Port_Binding: { [`00000000-0000-4000-8000-${String((j * 7919) % n).padStart(12, '0')}`]: { modify: { up: true, options: ['map', [['vf-num', String(j)]]] } } },
    })),
  );
  const next = [0, 0];
  const cases = replicas.map(({ r }, k) => () => r.apply(2, updates[k]![next[k]!++ % REPS]!));
  const { times, ratios } = alternateSync(rounds, cases, REPS, 1000);
  return {
    rows: [
      row({
        case: 'one modified row, replica of 16,000 vs 1,000 rows',
        metric: 'Replica.apply per update',
        unit: 'us',
        inProcess: true,
        values: times[1]!,
        ratios,
        target: TARGETS.update,
        note: `baseline: the same update on a replica of 1,000 rows (median ${round(median(times[0]!))} us)`,
      }),
    ],
    details: { sizes, usPerUpdate: times },
  };
}

function framingCase(bytes: Buffer, rounds: number): { rows: BenchRow[]; details: unknown } {
  // The bytes as a socket would deliver them: 64 KiB chunks.
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
  const parseOnly = () => JSON.parse(bytes.toString('utf8')) as unknown;
  const framed = () => {
    const s = new JsonStream(1 << 30);
    let out: unknown[] = [];
    for (const c of chunks) out = out.concat(s.push(c));
    return out;
  };
  const { times, ratios } = alternateSync(rounds, [parseOnly, framed], 5, 1);
  const mbps = (ms: number) => (bytes.length / 2 ** 20 / (ms / 1000)).toFixed(0);
  return {
    rows: [
      row({
        case: `framing: ${(bytes.length / 1024).toFixed(0)} KiB in 64 KiB chunks`,
        metric: 'JsonStream + JSON.parse',
        inProcess: true,
        values: times[1]!,
        ratios,
        target: TARGETS.framing,
        note: `baseline: JSON.parse of the whole message (${mbps(median(times[0]!))} MiB/s); framed ${mbps(median(times[1]!))} MiB/s`,
      }),
    ],
    details: { bytes: bytes.length, parseMs: times[0], framedMs: times[1] },
  };
}

async function memoryCase(server: OvsdbServer, n: number): Promise<{ rows: BenchRow[]; details: unknown }> {
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = heap();
  const c = new OvsdbClient({ database: 'OVN_Southbound', remotes: server.unix, tables: { Port_Binding: { columns: PB_COLUMNS } } });
  await c.ready({ timeoutMs: 30_000 });
  const after = heap();
  const sample = [...c.rows<Row>('Port_Binding').values()][0];
  await c.close();
  const perRow = (after - before) / n;
  return {
    rows: [
      {
        suite: 'ovsdb',
        case: `retained heap per replicated Port_Binding (${n} rows, ${PB_COLUMNS.length} columns)`,
        transport: 'in-process',
        concurrency: null,
        metric: 'heapUsed delta / rows',
        unit: 'bytes',
        median: Math.round(perRow),
        note: `includes the schema and the connection; a row: ${JSON.stringify(sample, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)).length} bytes as JSON`,
      },
    ],
    details: { n, heapBefore: before, heapAfter: after },
  };
}

export async function runOvsdb(settings: OvsdbSettings, log: (s: string) => void): Promise<{ rows: BenchRow[]; details: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'vp-ovsdb-'));
  const servers: OvsdbServer[] = [];
  try {
    const sb = await startOvsdbServer({ dir, schema: SCHEMAS.sb, name: 'sb' });
    servers.push(sb);
    const vs = await startOvsdbServer({ dir, schema: SCHEMAS.vswitch, name: 'vs' });
    servers.push(vs);
    await populateSouthbound(sb, settings.portBindings);
    const load = await loadCase(sb, settings.portBindings, settings.rounds, log);
    const transact = await transactCase(vs, settings.ports, settings.rounds, log);
    const update = updateCase(settings.rounds);
    const framing = framingCase(load.loadBytes, settings.rounds);
    const memory = await memoryCase(sb, settings.portBindings);
    return {
      rows: [...load.rows, ...transact.rows, ...update.rows, ...framing.rows, ...memory.rows],
      details: { load: load.details, transact: transact.details, update: update.details, framing: framing.details, memory: memory.details },
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
