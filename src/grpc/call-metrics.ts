/**
 * What a gRPC server reports about each call, as an interface: the
 * Prometheus implementation (prometheus.ts) is loaded only when a program
 * serves metrics (--metrics-listen).
 */

/** gRPC method kinds, as go-grpc-prometheus labels them. */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** What the server tells about each call; `start` returns the call's end. */
export interface CallMetrics {
  start(path: string, type: GrpcType): CallEnd;
}

export interface CallEnd {
  /** A message was sent on a stream (unary calls count theirs in `end`). */
  sent(): void;
  /** A message was received on a stream. */
  received(): void;
  end(code: number): void;
}

const NOOP_END: CallEnd = { sent: () => undefined, received: () => undefined, end: () => undefined };

/** For daemons without --metrics-listen: nothing is counted, nothing costs. */
export const NO_METRICS: CallMetrics = { start: () => NOOP_END };
