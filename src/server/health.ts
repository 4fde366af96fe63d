import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';

import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../gen/grpc/health/v1/health';
import { PlugError } from '../registry';
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
        const service = call.request.service;
        call.write({ status: this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
        let set = this.watchers.get(service);
        if (set === undefined) {
          set = new Set();
          this.watchers.set(service, set);
        }
        set.add(call);
        const forget = () => {
          set.delete(call);
          if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
        };
        call.on('cancelled', forget);
        call.on('error', forget);
        call.on('finish', forget);
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
