/**
 * grpc.health.v1.Health (Check, Watch, List) over a table of serving
 * statuses, for any server of ours: "" for the whole server and one entry per
 * service its owner names.
 */

import { status as Code, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';

import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../gen/grpc/health/v1/health';
import { PlugError } from '../registry';
import { NO_METRICS } from './call-metrics';
import { adaptUnary, type EdgeContext } from './unary';

export { ServingStatus, HealthService };

type Watcher = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/**
 * grpc.health.v1.Health: Check, Watch and List over a table of serving
 * statuses, where "" is the whole server. Watch streams are ended at shutdown,
 * since an open stream would hold a graceful shutdown until its deadline.
 */
export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(services: readonly string[], initial: ServingStatus = ServingStatus.NOT_SERVING) {
    for (const service of ['', ...services]) this.statuses.set(service, initial);
  }

  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher.write({ status });
  }

  /** Forgets `service`: Check answers NOT_FOUND, watchers hear SERVICE_UNKNOWN (as for a name never known). */
  remove(service: string): void {
    if (!this.statuses.delete(service)) return;
    for (const watcher of this.watchers.get(service) ?? []) watcher.write({ status: ServingStatus.SERVICE_UNKNOWN });
  }

  setAll(status: ServingStatus): void {
    for (const service of this.statuses.keys()) this.set(service, status);
  }

  /** Ends every Watch stream with OK; per the health protocol, clients re-watch with backoff. */
  endWatches(): void {
    for (const set of this.watchers.values()) {
      for (const watcher of set) watcher.end();
      set.clear();
    }
  }

  implementation(edge: EdgeContext): UntypedServiceImplementation {
    return {
      check: adaptUnary(
        HealthService.check.path,
        async (req: HealthCheckRequest): Promise<HealthCheckResponse> => {
          const status = this.statuses.get(req.service);
          if (status === undefined) {
            throw new PlugError(
              'NOT_FOUND',
              'SERVICE_UNKNOWN',
              `no health status for service "${req.service.slice(0, 128)}"; known: "" (the whole server), ${this.known()}`,
            );
          }
          return { status };
        },
        edge,
      ),
      list: adaptUnary(
        HealthService.list.path,
        async () => ({ statuses: new Map([...this.statuses].map(([name, status]) => [name, { status }])) }),
        edge,
      ),
      watch: (call: Watcher) => {
        const done = (edge.metrics ?? NO_METRICS).start(HealthService.watch.path, 'server_stream');
        done.received();
        const service = call.request.service;
        call.write({ status: this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
        done.sent();
        let set = this.watchers.get(service);
        if (set === undefined) {
          set = new Set();
          this.watchers.set(service, set);
        }
        set.add(call);
        let ended = false;
        const forget = (code: number) => () => {
          set.delete(call);
          if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
          if (!ended) done.end(code);
          ended = true;
        };
        call.on('cancelled', forget(Code.CANCELLED));
        call.on('error', forget(Code.UNKNOWN));
        call.on('finish', forget(Code.OK));
      },
    };
  }

  private known(): string {
    return [...this.statuses.keys()]
      .filter((s) => s !== '')
      .map((s) => `"${s}"`)
      .join(', ');
  }
}
