import type { RemoteConnector } from '../registry';
import { parseEndpoint } from '../api/endpoint';
import { tcpWithoutTls } from './endpoint';
import { RemoteProvider, type RemoteSettings } from './remote-provider';

export { parseEndpoint, type ProviderEndpoint } from '../api/endpoint';
export { RemoteProvider, type RemoteSettings } from './remote-provider';

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
