/**
 * The API's rules for what a request may carry, checked at the edge before
 * anything reaches the registry: the provider type-name rule, ids the daemon
 * handed out, batch sizes, and a port's fields (op type, names, option maps)
 * within the limits of limits.ts. Each rule throws INVALID_ARGUMENT naming the
 * field (BadRequest), so that every handler refuses alike.
 */

import { OpType as WireOpType } from '../gen/vifplug/v1/vifplug';
import { NO_OPTIONS, invalidField, isPciAddress, missingField, type OpType, type PortCtxIn } from '../registry';
import { LIMITS } from './limits';

const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The provider type-name rule: 1 to 64 characters of letters, digits, "_",
 * "." and "-", starting with a letter or digit. Short, and safe to echo in
 * messages, logs, metric labels and health service names.
 */
export function isProviderType(value: string): boolean {
  return value !== '' && value.length <= LIMITS.maxTypeLength && TYPE_PATTERN.test(value);
}

/** A provider type of a request: required, and by the rule above. */
export function providerType(value: string, field = 'type'): string {
  if (value === '') throw missingField(field, 'a provider type such as "dummy" or "representor"');
  if (value.length > LIMITS.maxTypeLength) {
    throw invalidField(field, `at most ${LIMITS.maxTypeLength} characters, got ${value.length}`);
  }
  if (!TYPE_PATTERN.test(value)) {
    throw invalidField(field, 'letters, digits, "_", "." and "-" only, starting with a letter or digit');
  }
  return value;
}

/** Where an out-of-process provider serves; '' for a built-in class. */
export function endpoint(value: string): string {
  if (value.length > LIMITS.maxNameLength) {
    throw invalidField('endpoint', `at most ${LIMITS.maxNameLength} characters, got ${value.length}`);
  }
  return value;
}

/** A required PCI address, e.g. a VF's for Identify. */
export function pciAddress(value: string, field: string): string {
  if (value === '') throw missingField(field, 'a PCI address as sysfs spells it, e.g. 0000:05:00.3');
  if (!isPciAddress(value)) {
    throw invalidField(field, `a PCI address as sysfs spells it (domain:bus:device.function, lower-case hex, e.g. 0000:05:00.3), got ${JSON.stringify(value.slice(0, 64))}`);
  }
  return value;
}

/** The number of items of a batch call. */
export function batch(count: number, field: string): void {
  if (count > LIMITS.maxBatch) throw invalidField(field, `at most ${LIMITS.maxBatch} per call, got ${count}; split the batch`);
}

/** The ids the daemon hands out, and where a caller gets each one: said once, used by every check. */
const ID_SOURCES = {
  instance_id: 'the instance_id that Open returned',
  ctx_id: 'the ctx_id that PreparePort returned',
} as const;

type IdField = keyof typeof ID_SOURCES;

/** An id the daemon handed out: required. */
export function id(value: string, field: IdField): string {
  if (value === '') throw missingField(field, ID_SOURCES[field]);
  return optionalId(value, field);
}

/** An optional id: '' means "all" where the API says so. */
export function optionalId(value: string, field: IdField): string {
  if (value.length > LIMITS.maxIdLength) {
    throw invalidField(field, `at most ${LIMITS.maxIdLength} characters, got ${value.length}; use ${ID_SOURCES[field]}`);
  }
  return value;
}

export function opType(value: WireOpType): OpType {
  switch (value) {
    case WireOpType.OP_TYPE_CREATE:
      return 'create';
    case WireOpType.OP_TYPE_REMOVE:
      return 'remove';
    case WireOpType.OP_TYPE_UNSPECIFIED:
      throw missingField('op_type', 'OP_TYPE_CREATE or OP_TYPE_REMOVE');
    default:
      throw invalidField('op_type', `unknown value ${String(value)}; use OP_TYPE_CREATE or OP_TYPE_REMOVE`);
  }
}

function name(value: string, field: string, required: boolean): string {
  if (required && value === '') throw missingField(field, 'the logical port name');
  if (value.length > LIMITS.maxNameLength) {
    throw invalidField(field, `at most ${LIMITS.maxNameLength} characters, got ${value.length}`);
  }
  return value;
}

function options(map: Map<string, string>, field: string): ReadonlyMap<string, string> {
  if (map.size === 0) return NO_OPTIONS;
  if (map.size > LIMITS.maxOptions) {
    throw invalidField(field, `at most ${LIMITS.maxOptions} entries, got ${map.size}`);
  }
  for (const [key, value] of map) {
    if (key.length > LIMITS.maxOptionKeyLength) {
      throw invalidField(field, `keys are at most ${LIMITS.maxOptionKeyLength} characters, got one of ${key.length}`);
    }
    if (value.length > LIMITS.maxOptionValueLength) {
      throw invalidField(
        field,
        `values are at most ${LIMITS.maxOptionValueLength} characters, got ${value.length} for key "${key.slice(0, 64)}"`,
      );
    }
  }
  return map;
}

/** The wire fields of a PreparePort request that describe the port. */
export interface WirePortRequest {
  readonly opType: WireOpType;
  readonly useDpdk: boolean;
  readonly lportName: string;
  readonly lportOptions: Map<string, string>;
  readonly ifaceName: string;
  readonly ifaceType: string;
  readonly ifaceOptions: Map<string, string>;
}

/** Checks a port request and turns it into the provider's ctx_in. */
export function portCtxIn(req: WirePortRequest): PortCtxIn {
  return {
    opType: opType(req.opType),
    useDpdk: req.useDpdk,
    lportName: name(req.lportName, 'lport_name', true),
    lportOptions: options(req.lportOptions, 'lport_options'),
    ifaceName: name(req.ifaceName, 'iface_name', false),
    ifaceType: name(req.ifaceType, 'iface_type', false),
    ifaceOptions: options(req.ifaceOptions, 'iface_options'),
  };
}
