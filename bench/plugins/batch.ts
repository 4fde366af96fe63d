/**
 * Plug-in for the batch form, PreparePorts: detected in the generated code
 * (VifPlugService.preparePorts and its request codec). The request shape is
 * not known yet, so it is built generically: the request's one repeated field
 * gets the ports (each with op_type, lport_name, lport_options, and
 * instance_id if the item has one), instance_id is set at the top if the
 * request has it; every ctx_id found anywhere in the response counts as a
 * prepared port, and a response with fewer ctx ids than ports is an error.
 */
import { join } from 'node:path';

import { SRC_JS } from '../lib/paths';
import { skip, type Probe } from './load';

export interface PortSpec {
  readonly lportName: string;
  readonly lportOptions: Map<string, string>;
}

export interface BatchCodec {
  readonly path: string;
  /** The repeated field that carries the ports. */
  readonly field: string;
  encode(instanceId: string, ports: readonly PortSpec[]): Buffer;
  /** The ctx ids of the ports that were prepared. */
  ctxIds(response: Buffer): string[];
}

interface MethodDef {
  path: string;
  requestSerialize(value: unknown): Buffer;
  responseDeserialize(value: Buffer): unknown;
}

export function probeBatch(): Probe<BatchCodec> {
  let gen: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    gen = require(join(SRC_JS, 'gen', 'vifplug', 'v1', 'vifplug.js')) as Record<string, unknown>;
  } catch (err) {
    return skip(`generated code does not load: ${String(err)}`);
  }
  const service = gen['VifPlugService'] as Record<string, MethodDef | undefined>;
  const def = service['preparePorts'];
  if (def === undefined) return skip('vifplug.v1.VifPlug has no PreparePorts RPC yet (no VifPlugService.preparePorts in src/gen/vifplug/v1/vifplug.ts)');
  const codec = gen['PreparePortsRequest'] as { fromPartial?(o: object): Record<string, unknown> } | undefined;
  if (typeof codec?.fromPartial !== 'function') return skip('src/gen/vifplug/v1/vifplug.ts has PreparePorts but no PreparePortsRequest codec');
  const empty = codec.fromPartial({});
  const fields = Object.keys(empty).filter((k) => Array.isArray(empty[k]));
  if (fields.length !== 1) return skip(`PreparePortsRequest should have exactly one repeated field for the ports, found: ${fields.join(', ') || 'none'}`);
  const field = fields[0]!;
  return {
    ok: true,
    value: {
      path: def.path,
      field,
      encode(instanceId, ports) {
        const items = ports.map((p) => ({ instanceId, opType: 1, lportName: p.lportName, lportOptions: p.lportOptions }));
        return def.requestSerialize(codec.fromPartial!({ instanceId, [field]: items }));
      },
      ctxIds(response) {
        const ids: string[] = [];
        collect(def.responseDeserialize(response), ids);
        return ids;
      },
    },
  };
}

function collect(value: unknown, ids: string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) collect(v, ids);
  } else if (typeof value === 'object' && value !== null && !(value instanceof Map) && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'ctxId' && typeof v === 'string' && v !== '') ids.push(v);
      else collect(v, ids);
    }
  }
}
