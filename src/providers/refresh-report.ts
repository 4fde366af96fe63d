/**
 * What a hardware provider tells the daemon after each full re-read of the
 * hardware: the daemon counts and times it (metrics), and takes it as the
 * moment to look at the provider's health again (ProviderClass.health, whose
 * `hardware` says how current the picture is), since a re-read is what makes
 * the picture stale or current.
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
