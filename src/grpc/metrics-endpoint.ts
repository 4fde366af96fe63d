/**
 * Serves GET /metrics for Prometheus on a TCP address (Prometheus cannot
 * scrape a unix socket): vifplugd's metrics, or vifplug-ovn's. Nothing else
 * is served; the body holds no secrets.
 */

import { createServer, type Server } from 'node:http';

import type { Logger } from 'pino';
import type { Registry as PromRegistry } from 'prom-client';

import type { TcpAddress } from '../api/endpoint';

/** What a program's metrics offer the endpoint: their prom-client registry. */
export interface MetricsSource {
  readonly prometheus: Pick<PromRegistry, 'metrics' | 'contentType'>;
}

export async function serveMetrics(address: TcpAddress, metrics: MetricsSource, logger: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    metrics.prometheus.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.prometheus.contentType }).end(body),
      (err: unknown) => {
        logger.error({ err }, 'could not collect metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const remedy =
        err.code === 'EADDRINUSE'
          ? '; another process listens there: stop it or give --metrics-listen another port'
          : err.code === 'EADDRNOTAVAIL'
            ? '; no interface of this host has that address: give one of its addresses, 127.0.0.1 or 0.0.0.0'
            : err.code === 'EACCES'
              ? '; ports below 1024 need root or CAP_NET_BIND_SERVICE: give --metrics-listen a higher port'
              : '';
      reject(new Error(`cannot serve metrics on ${address.spec}: ${err.message}${remedy}`, { cause: err }));
    });
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  return { server, port: typeof bound === 'object' && bound !== null ? bound.port : address.port };
}
