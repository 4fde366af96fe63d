/**
 * vifplug-ovn's side of --metrics-listen: its Prometheus metrics, loaded
 * only when metrics are asked for (prom-client costs start-up time).
 */

import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';

import type { AgentStatus, PassReport } from './agent';
import { REPAIR_REASONS, type RepairRemoval } from './repair';

/** What the metrics read from the running agent, at scrape time. */
export interface AgentMetricsSource {
  status(): AgentStatus;
  pendingByReason(): ReadonlyMap<string, number>;
}

/**
 * The agent's Prometheus metrics, for an operator's dashboards and alerts:
 * how many lports wait and why, whether the agent can act at all, and what
 * its reconcile passes cost. Served by the kit's endpoint
 * (src/grpc/metrics-endpoint.ts) on --metrics-listen; gauges are read from
 * the agent when scraped, so they cost nothing in between.
 */
export class AgentMetrics {
  readonly prometheus = new PromRegistry();
  private readonly passes = new Counter({
    name: 'vifplug_ovn_reconcile_passes_total',
    help: 'Reconcile passes, by outcome: committed (the bridge changed), unchanged, commit-failed (retried), error (a bug, retried).',
    labelNames: ['outcome'],
    registers: [this.prometheus],
  });
  private readonly passSeconds = new Histogram({
    name: 'vifplug_ovn_reconcile_pass_seconds',
    help: 'Duration of reconcile passes (vifplugd calls and the OVSDB commit included).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.prometheus],
  });

  private readonly repairs = new Counter({
    name: 'vifplug_ovn_repairs_total',
    help: "Ports of ovn-controller's own plugging that repair mode (--repair) removed so that ovn-controller plugs afresh, by reason: withdrawn, incompatible, not-requested.",
    labelNames: ['reason'],
    registers: [this.prometheus],
  });

  constructor(source: AgentMetricsSource) {
    const registers = [this.prometheus];
    for (const reason of REPAIR_REASONS) this.repairs.inc({ reason }, 0);
    new Gauge({
      name: 'vifplug_ovn_repairs_held',
      help: "Ports repair mode would remove but leaves, because ovn-controller's and vifplugd's providers disagree (vifplug-ovn status says which).",
      registers,
      collect() {
        this.set(source.status().repair.held.length);
      },
    });
    new Gauge({
      name: 'vifplug_ovn_lports_pending',
      help: 'Lports that are not plugged as asked, by reason (vifplug-ovn status says which and why).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of source.pendingByReason()) this.set({ reason }, count);
      },
    });
    new Gauge({
      name: 'vifplug_ovn_lports_plugged',
      help: 'Interfaces the agent plugged for the vif-plug-types it serves, by type.',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        const status = source.status();
        for (const type of status.types) this.set({ type }, 0);
        for (const l of status.lports) if (l.state === 'plugged') this.inc({ type: l.type });
      },
    });
    new Gauge({
      name: 'vifplug_ovn_lports_ignored',
      help: 'Lports requested to this chassis whose vif-plug-type this agent does not serve (ovn-controller\'s, or a typo), by that type.',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const l of source.status().ignored) this.inc({ type: l.type });
      },
    });
    new Gauge({
      name: 'vifplug_ovn_waiting',
      help: 'Conditions that keep the agent as a whole from plugging or unplugging (1 while present), by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const c of source.status().waiting) this.set({ reason: c.reason }, 1);
      },
    });
    new Gauge({
      name: 'vifplug_ovn_database_connected',
      help: 'Whether the agent has a loaded replica of the database: ovs (the local Open_vSwitch one) or sb (the Southbound one).',
      labelNames: ['database'],
      registers,
      collect() {
        const { connected } = source.status();
        this.set({ database: 'ovs' }, connected.ovs ? 1 : 0);
        this.set({ database: 'sb' }, connected.sb ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.prometheus });
  }

  passed({ seconds, outcome }: PassReport): void {
    this.passes.inc({ outcome });
    this.passSeconds.observe(seconds);
  }

  repaired({ reason }: RepairRemoval): void {
    this.repairs.inc({ reason });
  }
}
