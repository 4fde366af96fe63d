/**
 * The agent's replica of the Southbound DB for the chassis it is: one
 * OVSDB client at a time, made anew when the remotes change (ovn-remote
 * edited at run time), its monitor conditioned on this chassis (its Chassis
 * row and the Port_Bindings requested to it) and conditioned anew when the
 * identity changes. It knows when the replica is complete: loaded, with the
 * latest condition acknowledged by the server, and this chassis registered
 * (its Chassis row there). Until then an lport missing from it may only be
 * unseen, and the agent unplugs nothing for being gone: without the Chassis
 * row northd cannot name this chassis in requested_chassis or
 * requested_additional_chassis, and an lport requested to a comma list
 * ("hv1,hv2") can be matched by no other condition. For the same reason a
 * Chassis row that appears while the agent runs (ovn-controller registering
 * anew) counts only after REGISTRATION_SETTLE_MS, the time northd has to
 * name it in those columns; one that is there when the agent first loads
 * the Southbound DB counts at once.
 */

import type { Logger } from 'pino';

import { OvsdbClient, OvsdbConfigError, type Row, type TlsFiles } from '../ovsdb';
import { bindingCondition, chassisCondition, chassisIdentity, sbTables, type LocalConfig } from './views';

/** Why the Southbound replica cannot be used now (the agent's status `waiting`). */
export interface SouthboundCondition {
  readonly reason: 'SB_REMOTE_INVALID' | 'SB_UNREACHABLE' | 'SB_VIEW_INCOMPLETE' | 'CHASSIS_NOT_REGISTERED';
  readonly message: string;
}

/** How long a newly seen Chassis row of this chassis waits before absence from the replica means anything. */
export const REGISTRATION_SETTLE_MS = 3_000;

export interface SouthboundOptions {
  readonly logger: Logger;
  readonly tls?: TlsFiles;
  /** Some lports' bindings changed, or (`all`) the replica is complete again. */
  readonly onChange: (scope: 'all' | readonly string[]) => void;
}

export class Southbound {
  private client: OvsdbClient | undefined;
  private remotes: string | undefined;
  private local: LocalConfig | undefined;
  private invalid: string | undefined;
  private complete = false;
  /** Bumped by every condition request: only the latest one's acknowledgement completes the replica. */
  private conditionSeq = 0;
  /** The identity the condition was last asked for. */
  private conditionKey: string | undefined;
  private readonly closing = new Set<Promise<void>>();
  private closed = false;
  /** This chassis's Chassis row uuid as last seen, and whether REGISTRATION_SETTLE_MS have passed since. */
  private registration: { uuid: string | undefined; settled: boolean } = { uuid: undefined, settled: false };
  private settleTimer: NodeJS.Timeout | undefined;
  /** Whether a replica was ever loaded: a Chassis row in the first one is not new. */
  private loadedOnce = false;

  constructor(private readonly options: SouthboundOptions) {}

  /**
   * Reads the Southbound DB at `remotes` for the chassis `local` names:
   * reconnects when the remotes changed, conditions the monitor anew when
   * the identity did; `undefined` for either disconnects.
   */
  follow(remotes: string | undefined, local: LocalConfig | undefined): void {
    const identityChanged = local?.systemId !== this.local?.systemId || local?.hostname !== this.local?.hostname;
    this.local = local;
    if (remotes === undefined || local === undefined) {
      this.connect(undefined);
    } else if (remotes !== this.remotes) {
      this.connect(remotes);
    } else if (identityChanged) {
      this.syncChassis();
    }
  }

  /** Loaded from a live connection (not necessarily complete). */
  get synced(): boolean {
    return this.client?.isSynced ?? false;
  }

  /** Loaded, with this chassis's latest condition acknowledged and its Chassis row there: what is not in it is not requested here. */
  get isComplete(): boolean {
    return this.synced && this.complete && this.registered;
  }

  /** ovn-controller registered this chassis: its Chassis row is in the replica, and has been for REGISTRATION_SETTLE_MS. */
  private get registered(): boolean {
    return this.registeredUuid() !== undefined && !this.settling();
  }

  private registeredUuid(): string | undefined {
    const local = this.local;
    return local === undefined ? undefined : chassisIdentity(local, this.rows('Chassis')).uuid;
  }

  private settling(): boolean {
    return this.registration.uuid !== undefined && !this.registration.settled;
  }

  /** Notes a new Chassis row of this chassis; once it has settled, a pass over everything. */
  private noteRegistration(uuid: string | undefined): void {
    if (uuid === this.registration.uuid) return;
    const registration = { uuid, settled: !this.loadedOnce };
    this.registration = registration;
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    if (uuid === undefined || registration.settled || this.closed) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      registration.settled = true;
      if (this.isComplete) this.options.onChange('all');
    }, REGISTRATION_SETTLE_MS);
    this.settleTimer.unref();
  }

  /** The member read now; '' when not connected. */
  get remote(): string {
    return (this.client?.isSynced && this.client.remote) || '';
  }

  rows(table: 'Chassis' | 'Port_Binding'): ReadonlyMap<string, Row> {
    return this.client?.rows(table) ?? new Map();
  }

  /** Why the replica cannot be used now; undefined when it is complete or the agent has no remote to read. */
  condition(): SouthboundCondition | undefined {
    if (this.invalid !== undefined) return { reason: 'SB_REMOTE_INVALID', message: this.invalid };
    const client = this.client;
    if (client === undefined) return undefined;
    if (!client.isSynced) {
      const failure = client.lastFailure;
      return {
        reason: 'SB_UNREACHABLE',
        message: `the Southbound DB (${this.remotes}) is not connected${failure === undefined ? '' : `: ${failure.reason}`}; ports stay as they are, nothing is plugged or unplugged`,
      };
    }
    if (!this.complete) return { reason: 'SB_VIEW_INCOMPLETE', message: "the Southbound DB has not yet acknowledged this chassis's condition; nothing is unplugged until it has" };
    if (this.registeredUuid() !== undefined && this.settling()) {
      return {
        reason: 'SB_VIEW_INCOMPLETE',
        message: `this chassis was registered in the Southbound DB just now; northd resolves the lports requested to it meanwhile, so nothing is unplugged for ${REGISTRATION_SETTLE_MS / 1000} s`,
      };
    }
    if (!this.registered) {
      return {
        reason: 'CHASSIS_NOT_REGISTERED',
        message: `the Southbound DB has no Chassis row named ${this.local?.systemId} (ovn-controller registers it); ports requested to it by name are plugged, nothing is unplugged until it is there`,
      };
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.connect(undefined);
    await Promise.all(this.closing);
  }

  /** Replaces the client by one for `remotes` (none when undefined). */
  private connect(remotes: string | undefined): void {
    const old = this.client;
    this.client = undefined;
    this.complete = false;
    this.conditionKey = undefined;
    this.invalid = undefined;
    this.remotes = remotes;
    if (old !== undefined) {
      const closed = old.close().finally(() => this.closing.delete(closed));
      this.closing.add(closed);
    }
    const local = this.local;
    if (remotes === undefined || local === undefined || this.closed) return;
    const { logger, tls } = this.options;
    let client: OvsdbClient;
    try {
      client = new OvsdbClient({ database: 'OVN_Southbound', remotes, tables: sbTables(local), logger, tls });
    } catch (err) {
      if (!(err instanceof OvsdbConfigError)) throw err;
      this.invalid = `the Southbound DB "${remotes}" cannot be used: ${err.message}`;
      logger.error(this.invalid);
      return;
    }
    logger.info({ sb: remotes }, `Southbound DB ${remotes}`);
    this.client = client;
    client.on('resync', () => {
      if (client !== this.client) return;
      this.complete = false;
      this.conditionKey = undefined;
      this.syncChassis();
    });
    client.on('disconnect', () => {
      if (client === this.client) this.complete = false;
    });
    client.on('update', ({ changes }) => {
      if (client !== this.client) return;
      if (changes.has('Chassis')) this.syncChassis();
      const bindings = changes.get('Port_Binding');
      if (bindings !== undefined) {
        this.options.onChange([...bindings.inserted, ...bindings.deleted, ...bindings.modified.flatMap((m) => [m.old, m.new])].map((r) => String(r.logical_port)));
      }
    });
    client.start();
  }

  /**
   * Conditions the monitor on this chassis: its row, and the Port_Bindings
   * requested to it by name, hostname and (once ovn-controller registered
   * it) the row's uuid.
   */
  private syncChassis(): void {
    const client = this.client;
    const local = this.local;
    if (client === undefined || local === undefined) return;
    const chassis = chassisIdentity(local, client.rows('Chassis'));
    if (client.isSynced) {
      this.noteRegistration(chassis.uuid);
      this.loadedOnce = true;
    }
    const seq = ++this.conditionSeq;
    const key = JSON.stringify([local.systemId, local.hostname, chassis.uuid]);
    // Another condition may bring rows in: until the server acknowledged it, absence means nothing.
    if (key !== this.conditionKey) this.complete = false;
    this.conditionKey = key;
    Promise.all([client.setCondition('Chassis', chassisCondition(local)), client.setCondition('Port_Binding', bindingCondition(local, chassis.uuid))]).then(
      () => {
        if (client !== this.client || seq !== this.conditionSeq || !client.isSynced) return;
        this.complete = true;
        this.options.onChange('all');
      },
      (err: unknown) => this.options.logger.debug({ err: String(err) }, 'Southbound condition not acknowledged; retried on the next connection'),
    );
  }
}
