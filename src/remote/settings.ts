/**
 * What every remote provider class is configured with (vifplugd's
 * --provider-timeout, --provider-probe-interval, the TLS of its TCP
 * endpoints, its logger). One shape, read by the session, its keeper and the
 * class; a setting here applies to every remote provider alike.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';

export interface RemoteSettings {
  /** Deadline of the calls no controller waits for (GetInfo, Init, Open, Close, Destroy, probes). */
  readonly providerTimeoutMs: number;
  /** Health probes of a serving provider; the longest wait between attempts to reach one that is down. */
  readonly probeIntervalMs: number;
  /** Credentials for TCP endpoints; without them only unix sockets are dialled. */
  readonly tls?: ChannelCredentials;
  readonly logger: Logger;
}
