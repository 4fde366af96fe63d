/**
 * The sysfs `phys_port_name` of a switchdev port, parsed. The kernel builds it
 * in __devlink_port_phys_port_name_get (net/devlink/port.c) or in a driver's
 * ndo_get_phys_port_name: physical "p0" / "p1s2", PF "pf0" / "c1pf0",
 * VF "pf0vf3" / "c1pf0vf3", SF "pf0sf88" / "c1pf0sf77". Every pattern is
 * anchored and numbers have no leading zeros (the kernel prints %u), so that
 * legacy forms such as "3" (old mlx5 VF names) or "pf0vf-1" (old BlueField
 * host PF) are not mistaken for VFs.
 */

import type { PortNumbers } from '../../registry/provider';

export type PhysPortName =
  | { readonly kind: 'uplink'; readonly port: number; readonly split?: number }
  | { readonly kind: 'pf'; readonly controller?: number; readonly pf: number }
  | { readonly kind: 'vf'; readonly controller?: number; readonly pf: number; readonly vf: number }
  | { readonly kind: 'sf'; readonly controller?: number; readonly pf: number; readonly sf: number };

const N = '(0|[1-9][0-9]{0,9})';
const UPLINK_RE = new RegExp(`^p${N}(?:s${N})?$`);
const PF_RE = new RegExp(`^(?:c${N})?pf${N}$`);
const VF_RE = new RegExp(`^(?:c${N})?pf${N}vf${N}$`);
const SF_RE = new RegExp(`^(?:c${N})?pf${N}sf${N}$`);

const U16 = 0xffff;
const U32 = 0xffffffff;

export function parsePhysPortName(text: string): PhysPortName | undefined {
  let m = UPLINK_RE.exec(text);
  if (m) {
    const port = num(m[1], U32);
    const split = m[2] === undefined ? undefined : num(m[2], U32);
    if (port === undefined || (m[2] !== undefined && split === undefined)) return undefined;
    return split === undefined ? { kind: 'uplink', port } : { kind: 'uplink', port, split };
  }
  if ((m = PF_RE.exec(text))) {
    const pf = num(m[2], U16);
    const controller = optional(m[1]);
    if (pf === undefined || controller === null) return undefined;
    return withController({ kind: 'pf' as const, pf }, controller);
  }
  if ((m = VF_RE.exec(text))) {
    const pf = num(m[2], U16);
    const vf = num(m[3], U16);
    const controller = optional(m[1]);
    if (pf === undefined || vf === undefined || controller === null) return undefined;
    return withController({ kind: 'vf' as const, pf, vf }, controller);
  }
  if ((m = SF_RE.exec(text))) {
    const pf = num(m[2], U16);
    const sf = num(m[3], U32);
    const controller = optional(m[1]);
    if (pf === undefined || sf === undefined || controller === null) return undefined;
    return withController({ kind: 'sf' as const, pf, sf }, controller);
  }
  return undefined;
}

/**
 * The name the kernel gives a devlink port (upstream rule since 2026: the
 * controller prefix appears for external ports and for non-zero controllers).
 * Used to describe devlink ports whose sysfs file was not read; '' when the
 * kernel prints none (virtual flavour and the rest).
 */
export function formatPhysPortName(port: PortNumbers & { readonly flavour?: string; readonly port?: number }): string {
  const prefix = port.external === true || (port.controller ?? 0) !== 0 ? `c${port.controller ?? 0}` : '';
  switch (port.flavour) {
    case 'physical':
      return port.port === undefined ? '' : `p${port.port}`;
    case 'pcipf':
      return port.pfnum === undefined ? '' : `${prefix}pf${port.pfnum}`;
    case 'pcivf':
      return port.pfnum === undefined || port.vfnum === undefined ? '' : `${prefix}pf${port.pfnum}vf${port.vfnum}`;
    case 'pcisf':
      return port.pfnum === undefined || port.sfnum === undefined ? '' : `${prefix}pf${port.pfnum}sf${port.sfnum}`;
    default:
      return '';
  }
}

function num(text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value <= max ? value : undefined;
}

/** undefined when absent, null when present but out of range. */
function optional(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  return num(text, U32) ?? null;
}

function withController<T extends object>(value: T, controller: number | undefined): T & { controller?: number } {
  return controller === undefined ? value : { ...value, controller };
}
