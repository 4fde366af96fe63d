/**
 * The index that answers a lookup in O(1) without I/O: a map from PF MAC to
 * the PFs that have it, each holding maps from VF / SF number to ports. Built
 * from an inventory (pure), replaced as a whole on refresh.
 *
 * It also produces the listing (ListRepresentors), by which a refresh tells
 * whether anything a controller cares about changed (sameRecords).
 */

import { PlugError } from '../../registry/errors';
import { NO_OPTIONS, type Representor } from '../../registry/provider';
import type { Anchor, Inventory } from './inventory';
import type { PortEntry } from './port-entry';
import { capList, describePort } from './messages';
import { contestKey, push } from './ownership';
import { ambiguousPfs, contested, describeAnchor, noFunction, noPf } from './refusals';
import { compareStrings } from './objects';
import { dpdkDevargs, type DevargsOutcome } from './dpdk';
import { describeFunction, optionsFor, SF_NUM_OPTION, VF_NUM_OPTION, type FunctionSelector, type LookupRequest } from './options';

export type LookupOutcome =
  | { readonly found: true; readonly entry: PortEntry }
  | {
      readonly found: false;
      readonly error: PlugError;
      /** Whether re-reading the hardware might change the answer (worth a refresh before answering). */
      readonly refreshMayHelp: boolean;
    };

export interface IndexOptions {
  /**
   * Until when a port's netdev name is expected to change (0 = settled); see
   * live-inventory.ts for the rename guard.
   */
  readonly pendingUntil?: (entry: PortEntry) => number;
}

/** How long to suggest waiting for a port that has no netdev yet. */
export const NOT_READY_RETRY_MS = 1_000;

export class LookupIndex {
  /** The Representor records, sorted by device, port index and netdev. */
  readonly records: readonly Representor[];

  private readonly byMac = new Map<string, Anchor[]>();
  /** Per MAC, only the anchors of the best tier: what lookup() chooses among, precomputed off the hot path. */
  private readonly best = new Map<string, readonly Anchor[]>();
  private readonly pending = new Map<string, number>();
  private readonly pendingTimes: number[];
  /** DPDK devargs per port key, worked out on first use (only chassis on the userspace datapath ask). */
  private readonly devargs = new Map<string, DevargsOutcome>();
  private byDevice: Map<string, PortEntry[]> | undefined;

  private constructor(
    private readonly inventory: Inventory,
    options: IndexOptions,
  ) {
    for (const anchor of inventory.anchors) {
      for (const mac of selectingMacs(anchor)) {
        const list = this.byMac.get(mac);
        if (list === undefined) this.byMac.set(mac, [anchor]);
        else list.push(anchor);
      }
    }
    for (const [mac, list] of this.byMac) {
      list.sort((a, b) => a.tier - b.tier);
      // Several PFs with the MAC are ambiguous, whatever their permanent MACs: bond
      // slaves (VF-LAG) all carry the bond's MAC as their current address, which
      // is what a CMS reports (Nova's pf_mac_address), so the slave whose
      // permanent MAC it also is may not be the PF meant. Refused, not guessed.
      this.best.set(mac, list.filter((a) => a.tier === list[0]!.tier));
    }
    if (options.pendingUntil !== undefined) {
      for (const entry of inventory.entries) {
        const until = options.pendingUntil(entry);
        if (until > 0) this.pending.set(entry.key, until);
      }
    }
    this.pendingTimes = [...this.pending.values()].sort((a, b) => a - b);
    this.records = this.buildRecords();
  }

  static build(inventory: Inventory, options: IndexOptions = {}): LookupIndex {
    return new LookupIndex(inventory, options);
  }

  /**
   * Whether `other` lists the same records. Compared field by field, in
   * place: a text fingerprint of 16k records cost a refresh ~14 MiB of
   * garbage and kept 1.7 MiB per index.
   */
  sameRecords(other: LookupIndex): boolean {
    const a = this.records;
    const b = other.records;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameRecord(a[i]!, b[i]!)) return false;
    return true;
  }

  get devlinkAvailable(): boolean {
    return this.inventory.devlinkAvailable;
  }

  get anchorCount(): number {
    return this.inventory.anchors.length;
  }

  /** Whether some port's rename window ended in (from, to]: its lookups now succeed. */
  settledBetween(from: number, to: number): boolean {
    return this.pendingTimes.some((t) => t > from && t <= to);
  }

  /** When the next port still held back by the rename guard settles, after `now`; undefined if none is. */
  nextSettle(now: number): number | undefined {
    return this.pendingTimes.find((t) => t > now);
  }

  lookup(request: LookupRequest, now: number): LookupOutcome {
    const best = this.best.get(request.pfMac);
    if (best === undefined) return this.noPf(request);
    if (best.length > 1) {
      return fail(request, {
        status: 'FAILED_PRECONDITION',
        reason: 'REPRESENTOR_AMBIGUOUS',
        message: ambiguousPfs(request.pfMac, best),
        metadata: { candidates: capList(best.map((a) => a.port.key)) },
      });
    }
    const anchor = best[0]!;
    const contest = anchor.contested.get(contestKey(request.fn.kind, request.fn.kind === 'pf' ? (anchor.pfnum ?? 0) : request.fn.num));
    if (contest !== undefined) {
      return fail(request, {
        status: 'FAILED_PRECONDITION',
        reason: 'REPRESENTOR_AMBIGUOUS',
        message: contested(request.fn, anchor, contest, this.inventory),
        metadata: { ...deviceMetadata(anchor), candidates: capList(contest.candidates.map((c) => c.netdev || c.key)), pfs: capList(contest.pfs) },
      });
    }
    const candidates = this.candidates(anchor, request.fn);
    if (candidates === undefined) {
      return fail(request, {
        status: 'NOT_FOUND',
        reason: 'REPRESENTOR_NOT_FOUND',
        message: `pf-mac ${request.pfMac} is the local ${describeAnchor(anchor)}: a switchdev host has no separate PF representor (the uplink ${anchor.port.netdev} is the PF itself); set ${VF_NUM_OPTION} or ${SF_NUM_OPTION} to plug a VF or SF representor`,
        metadata: deviceMetadata(anchor),
      });
    }
    if (candidates.length === 0) return this.noFunction(request, anchor);
    if (candidates.length > 1) {
      return fail(request, {
        status: 'FAILED_PRECONDITION',
        reason: 'REPRESENTOR_AMBIGUOUS',
        message: `${describeFunction(request.fn)} of ${describeAnchor(anchor)} is ambiguous: ${capList(candidates.map(describePort))} all match; refusing to guess`,
        metadata: { ...deviceMetadata(anchor), candidates: capList(candidates.map((c) => c.netdev || c.key)) },
      });
    }
    const entry = candidates[0]!;
    if (entry.netdev === '') {
      return fail(request, {
        status: 'UNAVAILABLE',
        reason: 'REPRESENTOR_NOT_READY',
        message: `${describeFunction(request.fn)} of ${describeAnchor(anchor)} is devlink port ${entry.key}, which has no netdev yet (type ${entry.type ?? 'unknown'}): the representor is being created, or its netdev lives in another network namespace; retry later`,
        metadata: { ...deviceMetadata(anchor), port: entry.key },
        retryAfterMs: NOT_READY_RETRY_MS,
        // A re-read may find the netdev registered since.
        refreshMayHelp: true,
      });
    }
    const until = this.pending.get(entry.key) ?? 0;
    if (until > now) {
      // Whole milliseconds: the clock is fractional, a person reads the message.
      const waitMs = Math.ceil(until - now);
      return fail(request, {
        status: 'UNAVAILABLE',
        reason: 'REPRESENTOR_RENAME_PENDING',
        message: `${describeFunction(request.fn)} of ${describeAnchor(anchor)} is ${describePort(entry)}, a kernel-assigned name that appeared moments ago and that udev is likely about to rename; retry in ${waitMs} ms`,
        metadata: { ...deviceMetadata(anchor), netdev: entry.netdev },
        retryAfterMs: waitMs,
      });
    }
    return { found: true, entry };
  }

  /**
   * The dpdk-devargs of a port found by lookup(), or why there are none
   * (dpdk.ts). The same for every lookup of the port until the next refresh.
   */
  dpdkDevargs(entry: PortEntry): DevargsOutcome {
    let outcome = this.devargs.get(entry.key);
    if (outcome === undefined) {
      if (this.byDevice === undefined) {
        this.byDevice = new Map();
        for (const e of this.inventory.entries) if (e.source === 'devlink') push(this.byDevice, e.device, e);
      }
      const bdf = entry.device.startsWith('pci/') ? entry.device.slice('pci/'.length) : '';
      outcome = dpdkDevargs(entry, this.inventory.pciDrivers.get(bdf), this.byDevice.get(entry.device) ?? []);
      this.devargs.set(entry.key, outcome);
    }
    return outcome;
  }

  /** undefined: the anchor's shape has no such function (a host's PF representor). */
  private candidates(anchor: Anchor, fn: FunctionSelector): readonly PortEntry[] | undefined {
    if (fn.kind === 'pf') return anchor.pfReps;
    return (fn.kind === 'vf' ? anchor.vfs : anchor.sfs).get(fn.num) ?? [];
  }

  private noPf(request: LookupRequest): LookupOutcome {
    return fail(request, { status: 'NOT_FOUND', reason: 'REPRESENTOR_NOT_FOUND', message: noPf(request.pfMac, this.inventory), metadata: {}, refreshMayHelp: true });
  }

  private noFunction(request: LookupRequest, anchor: Anchor): LookupOutcome {
    return fail(request, {
      status: 'NOT_FOUND',
      reason: 'REPRESENTOR_NOT_FOUND',
      message: noFunction(request.fn, anchor, this.inventory),
      metadata: deviceMetadata(anchor),
      refreshMayHelp: true,
    });
  }

  private buildRecords(): Representor[] {
    // A port is selectable by the options that look it up, and by nothing else:
    // the listing is derived from the lookup, so they cannot disagree.
    const selection = new Map<string, { pfMac: string; options: Map<string, string> }>();
    const owner = new Map<string, string>();
    const anchors = [...this.inventory.anchors].sort((a, b) => a.tier - b.tier || compareStrings(a.mac, b.mac));
    for (const anchor of anchors) {
      // The same steps as lookup(): a MAC must name this PF alone, the function
      // exactly one port (ready or not: the options do select it), uncontested.
      const mac = selectingMacs(anchor).find((m) => this.best.get(m)?.length === 1 && this.best.get(m)![0] === anchor);
      const claims: [FunctionSelector, readonly PortEntry[]][] = [];
      if (anchor.pfReps !== undefined) claims.push([{ kind: 'pf' }, anchor.pfReps]);
      for (const [num, list] of anchor.vfs) claims.push([{ kind: 'vf', num }, list]);
      for (const [num, list] of anchor.sfs) claims.push([{ kind: 'sf', num }, list]);
      for (const entry of anchor.untrusted) if (!owner.has(entry.key)) owner.set(entry.key, anchor.mac);
      for (const [fn, list] of claims) {
        for (const entry of list) if (!owner.has(entry.key)) owner.set(entry.key, anchor.mac);
        if (mac === undefined || list.length !== 1 || selection.has(list[0]!.key)) continue;
        if (fn.kind === 'pf' && anchor.contested.has(contestKey('pf', anchor.pfnum ?? 0))) continue;
        selection.set(list[0]!.key, { pfMac: mac, options: optionsFor(mac, fn) });
      }
    }
    const records = this.inventory.entries.map((entry): Representor => {
      const chosen = selection.get(entry.key);
      // One literal with every field (absent ones undefined), not a copy without them: 16k records per refresh.
      return {
        netdev: entry.netdev,
        ifindex: entry.ifindex,
        flavour: entry.flavour,
        device: entry.device,
        portIndex: entry.portIndex,
        controller: entry.controller,
        pfnum: entry.pfnum,
        vfnum: entry.vfnum,
        sfnum: entry.sfnum,
        external: entry.external,
        pfMac: chosen?.pfMac ?? owner.get(entry.key) ?? '',
        source: entry.source,
        physPortName: entry.physPortName,
        // One shared empty map for the ports nothing selects: 16k maps are megabytes per refresh.
        lportOptions: chosen?.options ?? NO_OPTIONS,
      };
    });
    return records.sort(compareRecords);
  }
}

function compareRecords(a: Representor, b: Representor): number {
  return (
    compareStrings(a.device, b.device) ||
    (a.portIndex ?? Number.MAX_SAFE_INTEGER) - (b.portIndex ?? Number.MAX_SAFE_INTEGER) ||
    compareStrings(a.netdev, b.netdev) ||
    compareStrings(a.source, b.source)
  );
}

/** Every field of a record but its options, which sameRecord compares entry by entry. */
const RECORD_FIELDS = ['netdev', 'ifindex', 'flavour', 'device', 'portIndex', 'controller', 'pfnum', 'vfnum', 'sfnum', 'external', 'pfMac', 'source', 'physPortName'] as const satisfies readonly Exclude<keyof Representor, 'lportOptions'>[];

// A field added to Representor and not to the list fails to compile here (it would never count as a change).
type UncomparedField = Exclude<keyof Representor, 'lportOptions' | (typeof RECORD_FIELDS)[number]>;
const EVERY_FIELD_COMPARED: [UncomparedField] extends [never] ? true : UncomparedField = true;
void EVERY_FIELD_COMPARED;

function sameRecord(a: Representor, b: Representor): boolean {
  for (const field of RECORD_FIELDS) if (a[field] !== b[field]) return false;
  if (a.lportOptions === b.lportOptions) return true;
  if (a.lportOptions.size !== b.lportOptions.size) return false;
  for (const [key, value] of a.lportOptions) if (b.lportOptions.get(key) !== value) return false;
  return true;
}

/** The MACs a pf-mac may name the anchor by: its address, and a bond slave's permanent MAC. */
function selectingMacs(anchor: Anchor): string[] {
  return anchor.permanentMac === undefined ? [anchor.mac] : [anchor.permanentMac, anchor.mac];
}

function deviceMetadata(anchor: Anchor): Record<string, string> {
  return anchor.devices.length > 0 ? { device: anchor.devices.join(',') } : {};
}

interface Failure {
  readonly status: 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'UNAVAILABLE';
  readonly reason: string;
  readonly message: string;
  readonly metadata: Record<string, string>;
  readonly retryAfterMs?: number;
  /** Whether re-reading the hardware might change the answer (default false). */
  readonly refreshMayHelp?: boolean;
}

function fail(request: LookupRequest, failure: Failure): LookupOutcome {
  const fn = request.fn;
  const fnMetadata: Record<string, string> = fn.kind === 'vf' ? { vf_num: String(fn.num) } : fn.kind === 'sf' ? { sf_num: String(fn.num) } : {};
  const error = new PlugError(failure.status, failure.reason, failure.message, {
    metadata: { pf_mac: request.pfMac, ...fnMetadata, ...failure.metadata },
    ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
  });
  return { found: false, error, refreshMayHelp: failure.refreshMayHelp ?? false };
}

