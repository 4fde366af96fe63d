/**
 * --provider-dir: registers and unregisters remote providers as their
 * sockets appear in and vanish from a directory, as kubelet's plugin
 * watcher does for its plugins (see ProviderDirectory).
 *
 * It goes through the registry like any caller of Register and Unregister;
 * it never touches a provider's session, which is the remote class's own.
 */

import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { backoffDelay } from '../common/backoff';
import { RateLimiter } from '../common/log';
import { SerialRunner } from '../common/serial-runner';
import { PlugError, describeError, isPlugError, type Registry } from '../registry';
import { providerType } from '../api/validate';
import { MAX_SOCKET_PATH_BYTES, parseEndpoint } from '../api/endpoint';
import { ProviderCallError } from './call-failure';
import { ProviderConnection } from './connection';
import { checkSocket } from './endpoint';

export interface DiscoveryOptions {
  readonly dir: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Full re-reads of the directory besides its change events. */
  readonly rescanMs: number;
  /** Deadline of the GetInfo that learns a socket's type. */
  readonly timeoutMs: number;
  readonly tls?: ChannelCredentials;
}

const FIRST_RETRY_MS = 200;

/**
 * --provider-dir: kubelet's plugin watcher for VIF plug providers. The
 * directory is the desired state: every "<name>.sock" socket in it (names
 * starting with "." are ignored) should be a registered remote provider,
 * under the type its GetInfo names; every provider this watcher registered
 * whose socket is gone should not. A reconciler compares that with the
 * registry on every change event of the directory and every `rescanMs`, and
 * converges: a provider that fails to register is retried with backoff, one
 * that cannot be unregistered yet (its instance is open; it shows down
 * meanwhile) is retried until it can, or until its socket is back.
 */
export class ProviderDirectory {
  /** endpoint -> type and socket inode, for the providers this watcher registered. */
  private readonly registered = new Map<string, { readonly type: string; readonly ino: number }>();
  /** endpoint -> when to try again, and how many times in a row it failed, for sockets that failed to register. */
  private readonly retry = new Map<string, { at: number; failures: number }>();
  private readonly failures = new RateLimiter(60_000, 1);
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The reconciliation passes: one at a time, one more for the changes seen during a pass. */
  private readonly passes = new SerialRunner(() => this.pass());
  private stopped = false;

  constructor(private readonly options: DiscoveryOptions) {}

  /** Checks (or creates) the directory and registers what is in it; fails if the directory is unsafe. */
  async start(): Promise<void> {
    const { dir } = this.options;
    if (!dir.startsWith('/')) throw new Error(`--provider-dir ${dir} must be an absolute path`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const mode = (await stat(dir)).mode;
    if ((mode & 0o022) !== 0) {
      throw new Error(
        `--provider-dir ${dir} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')}) is writable by users other than its owner, ` +
          'any of whom could register a provider by creating a socket there; chmod go-w it',
      );
    }
    this.watcher = watch(dir, () => this.kick());
    this.watcher.on('error', (err) => this.options.logger.warn({ err, dir }, 'cannot watch --provider-dir; rescanning periodically only'));
    // The first pass runs in the background: a provider that hangs must not hold up the daemon's start.
    void this.reconcile().finally(() => this.schedule());
  }

  stop(): void {
    this.stopped = true;
    void this.passes.stop();
    this.watcher?.close();
    clearTimeout(this.timer);
  }

  /** A reconciliation pass that starts after this call: now, or right after the pass under way; resolves when it has ended. */
  reconcile(): Promise<void> {
    return this.passes.request();
  }

  private kick(): void {
    if (!this.stopped) void this.reconcile();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.reconcile().finally(() => this.schedule());
    }, this.options.rescanMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const present = await this.sockets();
    const now = Date.now();
    const byEndpoint = new Map(this.options.registry.list().map((p) => [p.endpoint, p.type]));
    for (const [endpoint, ino] of present) {
      if (this.stopped) return;
      const known = this.registered.get(endpoint);
      // A new inode is a provider that restarted: registering it again
      // starts its new session now rather than at the next probe.
      if (known !== undefined && known.ino === ino && byEndpoint.get(endpoint) === known.type) continue;
      const due = this.retry.get(endpoint);
      if (due !== undefined && due.at > now) continue;
      await this.add(endpoint, ino);
    }
    for (const [endpoint, { type }] of this.registered) {
      if (this.stopped) return;
      if (!present.has(endpoint)) await this.remove(endpoint, type, byEndpoint.get(endpoint) === type);
    }
    for (const endpoint of this.retry.keys()) if (!present.has(endpoint)) this.retry.delete(endpoint);
  }

  /** The "<name>.sock" sockets in the directory: endpoint -> inode. */
  private async sockets(): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    let names: string[];
    try {
      names = await readdir(this.options.dir);
    } catch (err) {
      this.options.logger.warn({ err, dir: this.options.dir }, 'cannot read --provider-dir');
      return found;
    }
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.sock')) continue;
      const path = join(this.options.dir, name);
      if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
        this.warn(path, `ignoring ${path}: a socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes`);
        continue;
      }
      const stats = await lstat(path).catch(() => undefined);
      if (stats?.isSocket()) found.set(`unix://${path}`, stats.ino);
    }
    return found;
  }

  private async add(endpoint: string, ino: number): Promise<void> {
    try {
      const type = await this.typeAt(endpoint);
      const before = this.registered.get(endpoint);
      if (before !== undefined && before.type !== type) await this.remove(endpoint, before.type, true);
      await this.options.registry.registerRemote(type, endpoint);
      this.registered.set(endpoint, { type, ino });
      this.retry.delete(endpoint);
      this.options.logger.info({ endpoint, provider: type }, `registered provider "${type}" found in --provider-dir`);
    } catch (err) {
      const failures = (this.retry.get(endpoint)?.failures ?? 0) + 1;
      const delayMs = backoffDelay(failures, { minMs: FIRST_RETRY_MS, maxMs: this.options.rescanMs });
      this.retry.set(endpoint, { at: Date.now() + delayMs, failures });
      if (delayMs < this.options.rescanMs) setTimeout(() => this.kick(), delayMs).unref();
      const reason = isPlugError(err) ? err.reason : 'ERROR';
      this.warn(`${endpoint} ${reason}`, `cannot register the provider at ${endpoint}: ${describeError(err)}`, { endpoint, reason });
    }
  }

  private async remove(endpoint: string, type: string, stillOurs: boolean): Promise<void> {
    if (!stillOurs) {
      this.registered.delete(endpoint);
      return;
    }
    try {
      await this.options.registry.unregister(type);
      this.registered.delete(endpoint);
      this.options.logger.info({ endpoint, provider: type }, `unregistered provider "${type}": its socket left --provider-dir`);
    } catch (err) {
      if (isPlugError(err) && err.reason === 'PROVIDER_NOT_FOUND') {
        this.registered.delete(endpoint);
        return;
      }
      this.warn(`${endpoint} gone`, `provider "${type}" left --provider-dir but stays registered for now: ${describeError(err)}`, { endpoint });
    }
  }

  /** The type the provider at `endpoint` serves, from its GetInfo. */
  private async typeAt(endpoint: string): Promise<string> {
    const address = parseEndpoint(endpoint);
    if (address.kind === 'unix') await checkSocket(address.path);
    const conn = new ProviderConnection(address, this.options.tls);
    try {
      const info = await conn.call('getInfo', {}, Date.now() + this.options.timeoutMs);
      try {
        return providerType(info.type);
      } catch (err) {
        throw new PlugError('FAILED_PRECONDITION', 'PROVIDER_TYPE_INVALID', `its GetInfo names type "${info.type.slice(0, 64)}": ${describeError(err)}`);
      }
    } catch (err) {
      if (err instanceof ProviderCallError) throw new Error(`GetInfo failed (${err.failure.kind}${'message' in err.failure ? `: ${err.failure.message}` : ''})`);
      throw err;
    } finally {
      conn.close();
    }
  }

  private warn(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const suppressed = this.failures.admit(key);
    if (suppressed === undefined) return;
    this.options.logger.warn({ dir: this.options.dir, ...fields, ...(suppressed > 0 ? { suppressedSimilar: suppressed } : {}) }, message);
  }
}
