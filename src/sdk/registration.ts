/**
 * Keeping a provider registered with vifplugd across restarts of either, as
 * kubelet device plugins stay registered with the kubelet.
 */

import { Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { VifplugClient } from '../client/client';
import { Backoff } from '../common/backoff';
import { HealthService } from '../gen/grpc/health/v1/health';

export interface RegistrationOptions {
  /** vifplugd's gRPC target, e.g. "unix:///run/vifplug/vifplug.sock". */
  readonly daemon: string;
  /** For a daemon reached over TCP (TLS); unix sockets need none. */
  readonly credentials?: ChannelCredentials;
  /** Longest wait between attempts (default 5 s); the first retry comes after 100 ms. */
  readonly maxBackoffMs?: number;
  /** Told of every attempt that failed (vifplugd not up yet, registration refused); default: logged. */
  readonly onError?: (err: Error) => void;
  /** Told after every successful registration (the first, and after each restart of vifplugd). */
  readonly onRegistered?: () => void;
}

const FIRST_BACKOFF_MS = 100;

/**
 * Keeps a provider registered with vifplugd, the way kubelet device plugins
 * stay registered with the kubelet: register once serving, then watch the
 * daemon (a grpc.health.v1 Watch stream on its socket); when the stream
 * breaks, vifplugd stopped or restarted and forgot us, so register again,
 * retrying with backoff until it answers. A refusal (the type is taken,
 * registration is off) is retried too, at the longest backoff: an operator
 * may fix it without restarting the provider.
 */
export class Registration {
  private readonly client: VifplugClient;
  private stopped = false;
  private cancelWatch: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private first: Promise<void>;
  private markFirst!: () => void;

  constructor(
    private readonly type: string,
    private readonly endpoint: string,
    private readonly options: RegistrationOptions,
    private readonly logger: Logger,
  ) {
    this.client = new VifplugClient(options.daemon, { credentials: options.credentials, maxAttempts: 1 });
    this.first = new Promise((resolve) => (this.markFirst = resolve));
  }

  registered(): Promise<void> {
    return this.first;
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.cancelWatch?.();
    this.wake?.();
    this.client.close();
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff({ minMs: FIRST_BACKOFF_MS, maxMs: this.options.maxBackoffMs ?? 5000 });
    while (!this.stopped) {
      try {
        await this.client.call('register', { type: this.type, endpoint: this.endpoint }, { deadlineMs: 10_000 });
        backoff.reset();
        this.logger.info({ daemon: this.options.daemon, type: this.type }, 'registered with vifplugd');
        this.markFirst();
        this.options.onRegistered?.();
        await this.watchDaemon();
        if (this.stopped) return;
        this.logger.info({ daemon: this.options.daemon }, 'lost vifplugd; registering again once it is back');
      } catch (err) {
        if (this.stopped) return;
        const error = err instanceof Error ? err : new Error(String(err));
        if (this.options.onError) this.options.onError(error);
        else this.logger.warn({ err: error, daemon: this.options.daemon }, `cannot register with vifplugd: ${error.message}`);
      }
      await this.sleep(backoff.next());
    }
  }

  /** Resolves when vifplugd's health stream ends: it stopped, restarted or is draining. */
  private watchDaemon(): Promise<void> {
    return new Promise((resolve) => {
      const def = HealthService.watch;
      const stream = this.client.grpc.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { service: '' }, new Metadata(), {});
      const done = () => {
        this.cancelWatch = undefined;
        stream.removeAllListeners();
        stream.on('error', () => undefined);
        stream.cancel();
        resolve();
      };
      this.cancelWatch = done;
      stream.on('data', () => undefined);
      stream.on('error', done);
      stream.on('end', done);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
