/**
 * What the daemon needs of remote providers: the connector that Register
 * {type, endpoint} uses to make a remote provider's class.
 */

import type { RemoteConnector } from '../registry';
import { parseEndpoint } from '../api/endpoint';
import { tcpWithoutTls } from './endpoint';
import { RemoteProvider, type RemoteSettings } from './remote-provider';

export type { RemoteSettings } from './remote-provider';

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
