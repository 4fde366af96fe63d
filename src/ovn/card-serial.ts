/**
 * vifplug-ovn --publish-card-serial: tells a CMS which chassis this DPU is.
 * Neutron binds a remote-managed port to the chassis whose
 * external_ids:ovn-cms-options (a comma-separated key=value list) holds
 * card-serial-number=<the serial Nova reported for the VF's card>; its admin
 * guide has operators write that by hand. Here the serial comes from
 * vifplugd (ListCards: the one process that reads the hardware, so one
 * --sysfs-root serves a container and the tests alike) and is merged into
 * ovn-cms-options without disturbing the other entries, and kept right: put
 * back when someone rewrites the option without it, replaced when vifplugd
 * answers another serial. When vifplugd picks no card (several, none, an
 * unreadable VPD) nothing is written: the option stays as it is, and the
 * reason is logged.
 */

import type { Logger } from 'pino';

import type { VifplugClient } from '../client/client';
import { SerialRunner } from '../common/serial-runner';
import { OvsdbClient, type Row, type TlsFiles } from '../ovsdb';

export const CMS_OPTIONS = 'ovn-cms-options';
export const CARD_SERIAL = 'card-serial-number';

/**
 * ovn-cms-options with card-serial-number=<serial>: the entry replaced where
 * it is (or added at the end), every other entry kept as written; undefined
 * when the value already says so.
 */
export function withCardSerial(cmsOptions: string | undefined, serial: string): string | undefined {
  const entries = (cmsOptions ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  const wanted = `${CARD_SERIAL}=${serial}`;
  const at = entries.findIndex((e) => e.split('=')[0]!.trim() === CARD_SERIAL);
  if (at >= 0 && entries[at] === wanted && entries.filter((e) => e.split('=')[0]!.trim() === CARD_SERIAL).length === 1) return undefined;
  const others = entries.filter((e) => e.split('=')[0]!.trim() !== CARD_SERIAL);
  if (at >= 0) others.splice(Math.min(at, others.length), 0, wanted);
  else others.push(wanted);
  return others.join(',');
}

export interface CardSerialOptions {
  readonly client: VifplugClient;
  readonly ovsDb: string;
  readonly tls: TlsFiles | undefined;
  readonly logger: Logger;
  /** How often vifplugd is asked again (a card is replaced only with the host down, but vifplugd may have been unreachable). */
  readonly refreshMs?: number;
}

/** What the publisher did last, for logs and tests. */
export interface CardSerialState {
  /** The serial vifplugd picked; '' while none is. */
  readonly serial: string;
  readonly message: string;
}

export class CardSerialPublisher {
  private readonly ovs: OvsdbClient;
  private readonly logger: Logger;
  private serial = '';
  private lastMessage = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The writes: one at a time, one more for the changes seen during a write. */
  private readonly writes = new SerialRunner(() => this.write());

  constructor(private readonly options: CardSerialOptions) {
    this.logger = options.logger.child({ component: 'card-serial' });
    this.ovs = new OvsdbClient({ database: 'Open_vSwitch', remotes: options.ovsDb, tables: { Open_vSwitch: { columns: ['external_ids'] } }, logger: this.logger, tls: options.tls });
  }

  get state(): CardSerialState {
    return { serial: this.serial, message: this.lastMessage };
  }

  start(): void {
    this.ovs.on('resync', () => this.ensure());
    this.ovs.on('update', () => this.ensure());
    this.ovs.start();
    void this.ask();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.writes.stop();
    await this.ovs.close();
  }

  /** Asks vifplugd which card identifies the chassis, then again every refreshMs (sooner while it cannot be reached). */
  private async ask(): Promise<void> {
    let delay = this.options.refreshMs ?? 60_000;
    try {
      const cards = await this.options.client.listCards();
      const message = cards.selectionMessage;
      if (cards.chassisCardSerialNumber !== this.serial || message !== this.lastMessage) {
        if (cards.chassisCardSerialNumber === '') this.logger.warn({ problems: cards.problems.map((p) => p.message) }, `not publishing a card serial: ${message}`);
        else this.logger.info({ serial: cards.chassisCardSerialNumber }, `publishing ${CARD_SERIAL}=${cards.chassisCardSerialNumber} in ${CMS_OPTIONS}: ${message}`);
      }
      this.serial = cards.chassisCardSerialNumber;
      this.lastMessage = message;
      this.ensure();
    } catch (err) {
      delay = Math.min(delay, 5_000);
      this.logger.warn({ err: (err as Error).message }, `cannot ask vifplugd for the card serial (${(err as Error).message}); asking again in ${delay / 1000} s`);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.ask(), delay);
  }

  /** Writes the serial into ovn-cms-options if it is not there as it should be; one write at a time. */
  private ensure(): void {
    if (this.stopped || this.serial === '') return;
    void this.writes.request();
  }

  private async write(): Promise<void> {
    // The serial may have been withdrawn since the write was asked for.
    if (this.serial === '') return;
    const row: Row | undefined = this.ovs.rows('Open_vSwitch').values().next().value;
    if (row === undefined) return;
    const ids = row.external_ids instanceof Map ? (row.external_ids as Map<string, string>) : new Map<string, string>();
    const current = ids.get(CMS_OPTIONS);
    const next = withCardSerial(current, this.serial);
    if (next === undefined) return;
    try {
      // Only if nobody changed the option meanwhile; a change comes back as an update and is merged then.
      await this.ovs.transact(
        [
          { op: 'wait', table: 'Open_vSwitch', where: [['_uuid', '==', row._uuid as string]], columns: ['external_ids'], until: '==', rows: [{ external_ids: ids }], timeout: 0 },
          { op: 'mutate', table: 'Open_vSwitch', where: [['_uuid', '==', row._uuid as string]], mutations: [['external_ids', 'delete', [CMS_OPTIONS]], ['external_ids', 'insert', new Map([[CMS_OPTIONS, next]])]] },
        ],
        { timeoutMs: 10_000 },
      );
      this.logger.info({ from: current ?? '', to: next }, `set ${CMS_OPTIONS} to "${next}"`);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, `${CMS_OPTIONS} not written this time; retrying on the next change`);
    }
  }
}
