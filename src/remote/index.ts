/**
 * Providers in other processes: what Register {type, endpoint} makes
 * (remoteConnector) and what the daemon's wiring needs from this folder.
 * A remote provider class is made of:
 *   remote-provider.ts  the class the registry sees; the calls other than PreparePort
 *   session-keeper.ts   keeps one live session: desired vs actual state, probes, down and up
 *   session.ts          one connection's session: start and checks, Watch, its PortStream
 *   prepare-route.ts    which way a PreparePort travels (the one place that chooses)
 *   preparer.ts         carries PreparePort by that route
 *   answers.ts          every PreparePort answer checked; handles kept for their ctx
 *   provider-errors.ts  what provider failures mean to callers
 *   call-failure.ts     what a failed call was (status, trailers, bytes that are no message)
 *   connection.ts       the channel and its calls
 *   port-stream.ts      the client end of a PortStream
 */
import type { RemoteConnector } from '../registry';
import { parseEndpoint } from '../api/endpoint';
import { tcpWithoutTls } from './endpoint';
import { RemoteProvider } from './remote-provider';
import type { RemoteSettings } from './settings';

export type { RemoteSettings } from './settings';

/**
 * What Register {type, endpoint} makes: the class of a remote provider,
 * refusing endpoints that are malformed, or TCP without TLS settings.
 */
export function remoteConnector(settings: RemoteSettings): RemoteConnector {
  return (type, endpoint) => {
    const address = parseEndpoint(endpoint);
    if (address.kind === 'tcp' && settings.tls === undefined) throw tcpWithoutTls(endpoint);
    return new RemoteProvider(type, address, settings);
  };
}
