/**
 * What a hardware provider tells the daemon after each full re-read of the
 * hardware (the daemon turns it into metrics and a health status). One shape,
 * from the provider's refresh loop to the metrics registry and health.
 */
export interface RefreshReport {
  /** The provider type, e.g. "representor". */
  readonly provider: string;
  /** How long the re-read took. */
  readonly seconds: number;
  /** false: it failed and the previous picture stays in use. */
  readonly ok: boolean;
  /** How current the picture answers come from is, after this re-read. */
  readonly view?: HardwareView;
}

/** How current a provider's picture of the hardware is, and why not. */
export interface HardwareView {
  /** A re-read failed since the last good one: answers come from an older reading. */
  readonly stale: boolean;
  /** Epoch ms of the first failed re-read since the last good one. */
  readonly staleSince?: number;
  /** Stale, or read in a lesser way (e.g. sysfs only while devlink fails). */
  readonly degraded: boolean;
  /** A short fixed phrase for the trouble, e.g. "devlink timeout" (a metric label). */
  readonly cause?: string;
  /** What went wrong, in words. */
  readonly reason?: string;
  /** Epoch ms of the last re-read that succeeded. */
  readonly lastGoodAt?: number;
}

export type RefreshListener = (report: RefreshReport) => void;
