/**
 * The go-grpc-prometheus family of a gRPC server's calls, on a prom-client
 * registry its program owns: started, handled (by code, in Go's spelling),
 * messages received and sent, and handling time. Label children are cached
 * per method so that a call costs a few increments. Loaded only by programs
 * that serve metrics: prom-client costs start-up time.
 */

import { performance } from 'node:perf_hooks';

import { status as Code } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry as PromRegistry } from 'prom-client';

import { goCodeName } from '../api/status';
import type { CallEnd, CallMetrics, GrpcType } from './call-metrics';

const LABELS = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

export class GrpcCallMetrics implements CallMetrics {
  private readonly started: Counter<(typeof LABELS)[number]>;
  private readonly handled: Counter<(typeof LABELS)[number] | 'grpc_code'>;
  private readonly received: Counter<(typeof LABELS)[number]>;
  private readonly sentMessages: Counter<(typeof LABELS)[number]>;
  private readonly seconds: Histogram<(typeof LABELS)[number]>;
  private readonly methods = new Map<string, MethodMetrics>();

  constructor(prometheus: PromRegistry) {
    const registers = [prometheus];
    this.started = new Counter({ name: 'grpc_server_started_total', help: 'RPCs started on the server.', labelNames: LABELS, registers });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, regardless of success or failure.',
      labelNames: [...LABELS, 'grpc_code'],
      registers,
    });
    this.received = new Counter({ name: 'grpc_server_msg_received_total', help: 'RPC messages received on the server.', labelNames: LABELS, registers });
    this.sentMessages = new Counter({ name: 'grpc_server_msg_sent_total', help: 'gRPC messages sent by the server.', labelNames: LABELS, registers });
    this.seconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Response latency of gRPC calls handled by the server, in seconds.',
      labelNames: LABELS,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
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

interface MethodMetrics {
  readonly labels: Record<(typeof LABELS)[number], string>;
  readonly started: { inc(): void };
  readonly received: { inc(): void };
  readonly sent: { inc(): void };
  readonly seconds: { observe(value: number): void };
  readonly handled: Map<number, { inc(): void }>;
}
