/**
 * vifplugd's Prometheus metrics: the go-grpc-prometheus family of its calls
 * (grpc/prometheus.ts), the registry's ctxs, classes, instances and provider
 * calls in flight, and the hardware providers' ports, refreshes and how
 * current their picture of the hardware is. Gauges are read from the
 * registry when scraped, so they cost nothing in between.
 */

import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';

import { GrpcCallMetrics } from '../grpc/prometheus';
import type { RefreshReport, Registry } from '../registry';

export class Metrics {
  readonly prometheus = new PromRegistry();
  /** What the server counts of every call. */
  readonly calls = new GrpcCallMetrics(this.prometheus);
  private readonly refreshes = new Counter({
    name: 'vifplug_inventory_refreshes_total',
    help: 'Hardware inventory re-reads by providers, by result.',
    labelNames: ['provider', 'result'],
    registers: [this.prometheus],
  });
  private readonly refreshSeconds = new Histogram({
    name: 'vifplug_inventory_refresh_seconds',
    help: 'Duration of hardware inventory re-reads.',
    labelNames: ['provider'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.prometheus],
  });

  constructor(source: Registry) {
    const registers = [this.prometheus];
    new Gauge({ name: 'vifplug_ctxs', help: 'Live ctxs (prepared, not yet released).', registers, collect() { this.set(source.stats().ctxs); } });
    let reapedSeen = 0;
    new Counter({
      name: 'vifplug_ctxs_reaped_total',
      help: 'Ctxs released by the daemon because they outlived --ctx-ttl.',
      registers,
      collect() {
        const now = source.stats().reapedCtxs;
        if (now > reapedSeen) this.inc(now - reapedSeen);
        reapedSeen = now;
      },
    });
    new Gauge({ name: 'vifplug_providers', help: 'Registered provider classes.', registers, collect() { this.set(source.stats().classes); } });
    new Gauge({ name: 'vifplug_instances', help: 'Open provider instances.', registers, collect() { this.set(source.stats().instances); } });
    new Gauge({ name: 'vifplug_provider_calls_in_flight', help: 'Provider callbacks under way.', registers, collect() { this.set(source.stats().inflight); } });
    // Scrapes that overlap share one listing; the gauge is set in one step
    // once every answer is in, so that they cannot add up each other's counts.
    let listing: Promise<PortCounts> | undefined;
    const count = () => (listing ??= countPorts(source).finally(() => (listing = undefined)));
    new Gauge({
      name: 'vifplug_representors',
      help: 'Ports the hardware providers can plug, by provider and devlink flavour.',
      labelNames: ['provider', 'flavour'],
      registers,
      async collect() {
        const counts = await count();
        this.reset();
        for (const [provider, flavours] of counts) for (const [flavour, n] of flavours) this.set({ provider, flavour }, n);
      },
    });
    hardwareViewGauges(source, registers);
    collectDefaultMetrics({ register: this.prometheus });
  }

  refreshed({ provider, seconds, ok }: RefreshReport): void {
    this.refreshes.inc({ provider, result: ok ? 'ok' : 'error' });
    this.refreshSeconds.observe({ provider }, seconds);
  }
}

/** Ports by provider, then by devlink flavour. */
type PortCounts = Map<string, Map<string, number>>;

/**
 * Asks every class that announces a listing, through the registry's gate
 * like any provider call: on the class's own slot (a scrape never takes a
 * port call's), within the provider timeout, counted among the provider
 * calls in flight. A provider whose listing fails is left out of this
 * scrape rather than shown with no ports.
 */
async function countPorts(source: Registry): Promise<PortCounts> {
  const listers = source.list().filter((p) => p.listsRepresentors);
  const answers = await Promise.all(listers.map((p) => source.listRepresentors(p.type).then((ports) => ({ provider: p.type, ports }), () => undefined)));
  const counts: PortCounts = new Map();
  for (const answer of answers) {
    if (answer === undefined) continue;
    const flavours = new Map<string, number>();
    for (const port of answer.ports) flavours.set(port.flavour, (flavours.get(port.flavour) ?? 0) + 1);
    counts.set(answer.provider, flavours);
  }
  return counts;
}

/**
 * How current each hardware provider's picture is, read from its health at
 * scrape time (so the reading made at start-up, before metrics exist, counts
 * too). For alerts: `vifplug_inventory_degraded == 1`, or
 * `time() - vifplug_inventory_last_success_timestamp_seconds > 600`.
 */
function hardwareViewGauges(source: Registry, registers: PromRegistry[]): void {
  const views = () => source.list().flatMap((info) => (info.health.hardware === undefined ? [] : [{ provider: info.type, view: info.health.hardware }]));
  new Gauge({
    name: 'vifplug_inventory_degraded',
    help: 'Whether a hardware provider answers from a lesser picture of the hardware (1: stale or partial; cause says why).',
    labelNames: ['provider', 'cause'],
    registers,
    collect() {
      this.reset();
      for (const { provider, view } of views()) this.set({ provider, cause: view.degraded ? (view.cause ?? 'unknown') : '' }, view.degraded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vifplug_inventory_stale',
    help: "Whether a hardware provider's re-reads fail, so that answers come from its last good reading.",
    labelNames: ['provider'],
    registers,
    collect() {
      this.reset();
      for (const { provider, view } of views()) this.set({ provider }, view.stale ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vifplug_inventory_degraded_since_timestamp_seconds',
    help: "When a hardware provider's picture of the hardware became degraded (present only while it is).",
    labelNames: ['provider'],
    registers,
    collect() {
      this.reset();
      for (const { provider, view } of views()) if (view.degraded && view.since !== undefined) this.set({ provider }, view.since / 1000);
    },
  });
  new Gauge({
    name: 'vifplug_inventory_last_success_timestamp_seconds',
    help: 'When a hardware provider last read the hardware successfully.',
    labelNames: ['provider'],
    registers,
    collect() {
      this.reset();
      for (const { provider, view } of views()) if (view.lastGoodAt !== undefined) this.set({ provider }, view.lastGoodAt / 1000);
    },
  });
}
