/**
 * What a hardware provider tells the daemon after each full re-read of the
 * hardware (the daemon turns it into metrics). One shape, from the provider's
 * refresh loop to the metrics registry.
 */
export interface RefreshReport {
  /** The provider type, e.g. "representor". */
  readonly provider: string;
  /** How long the re-read took. */
  readonly seconds: number;
  /** false: it failed and the previous picture stays in use. */
  readonly ok: boolean;
}

export type RefreshListener = (report: RefreshReport) => void;
