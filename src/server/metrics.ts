import { performance } from 'node:perf_hooks';

import { status as Code } from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';

import { goCodeName } from '../grpc-status';
import type { Registry } from '../registry';
import type { RefreshReport } from '../providers/refresh-report';
import type { CallEnd, CallMetrics, GrpcType } from './call-metrics';

const LABELS = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

/**
 * Prometheus metrics: the go-grpc-prometheus family for every call, plus the
 * registry's ctxs and the hardware providers' inventories, refreshes and how
 * current their picture of the hardware is.
 * Label children are cached per method so a call costs a few increments.
 */
export class Metrics implements CallMetrics {
  readonly prometheus = new PromRegistry();
  private readonly started = new Counter({ name: 'grpc_server_started_total', help: 'RPCs started on the server.', labelNames: LABELS, registers: [this.prometheus] });
  private readonly handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'RPCs completed on the server, regardless of success or failure.',
    labelNames: [...LABELS, 'grpc_code'],
    registers: [this.prometheus],
  });
  private readonly received = new Counter({ name: 'grpc_server_msg_received_total', help: 'RPC messages received on the server.', labelNames: LABELS, registers: [this.prometheus] });
  private readonly sentMessages = new Counter({ name: 'grpc_server_msg_sent_total', help: 'gRPC messages sent by the server.', labelNames: LABELS, registers: [this.prometheus] });
  private readonly seconds = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Response latency of gRPC calls handled by the server, in seconds.',
    labelNames: LABELS,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.prometheus],
  });
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
  private readonly methods = new Map<string, MethodMetrics>();

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
    new Gauge({
      name: 'vifplug_representors',
      help: 'Ports the hardware providers can plug, by provider and devlink flavour.',
      labelNames: ['provider', 'flavour'],
      registers,
      async collect() {
        this.reset();
        for (const provider of source.list()) {
          const ports = await source.listRepresentors(provider.type).catch(() => undefined);
          for (const port of ports ?? []) this.inc({ provider: provider.type, flavour: port.flavour });
        }
      },
    });
    hardwareViewGauges(source, registers);
    collectDefaultMetrics({ register: this.prometheus });
  }

  start(path: string, type: GrpcType): CallEnd {
    const m = this.method(path, type);
    m.started.inc();
    const t0 = performance.now();
    return {
      received: () => m.received.inc(),
      sent: () => m.sent.inc(),
      end: (code) => {
        if (type === 'unary') {
          m.received.inc();
          if (code === Code.OK) m.sent.inc();
        }
        let handled = m.handled.get(code);
        if (handled === undefined) {
          handled = this.handled.labels({ ...m.labels, grpc_code: goCodeName(code) });
          m.handled.set(code, handled);
        }
        handled.inc();
        m.seconds.observe((performance.now() - t0) / 1000);
      },
    };
  }

  refreshed({ provider, seconds, ok }: RefreshReport): void {
    this.refreshes.inc({ provider, result: ok ? 'ok' : 'error' });
    this.refreshSeconds.observe({ provider }, seconds);
  }

  private method(path: string, type: GrpcType): MethodMetrics {
    let m = this.methods.get(path);
    if (m === undefined) {
      const slash = path.lastIndexOf('/');
      const labels = { grpc_type: type, grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
      m = {
        labels,
        started: this.started.labels(labels),
        received: this.received.labels(labels),
        sent: this.sentMessages.labels(labels),
        seconds: this.seconds.labels(labels),
        handled: new Map(),
      };
      this.methods.set(path, m);
    }
    return m;
  }
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

interface MethodMetrics {
  readonly labels: Record<(typeof LABELS)[number], string>;
  readonly started: { inc(): void };
  readonly received: { inc(): void };
  readonly sent: { inc(): void };
  readonly seconds: { observe(value: number): void };
  readonly handled: Map<number, { inc(): void }>;
}
