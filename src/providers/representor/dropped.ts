/**
 * What a refresh left out, and why. A host where one driver bug makes 16k
 * ports malformed must produce one log line for the cause, not 16k: notes
 * are gathered per cause (a fixed phrase chosen in code, such as "devlink
 * vfnum out of range"), each with one example and a count, and the refresh
 * loop logs each cause rate-limited with the number it held back.
 */

export interface Dropped {
  /** A fixed phrase naming the kind of problem; the key for rate limits. */
  readonly cause: string;
  /** The first occurrence, e.g. 'devlink port pci/0000:08:00.0/7: vfnum 70000 is not in 0..65535'. */
  readonly example: string;
  /** How many times the cause occurred in this refresh. */
  readonly count: number;
}

/** Causes are phrases from code, so few; the bound only guards against a bug. */
const MAX_CAUSES = 64;

export class DroppedTally {
  private readonly byCause = new Map<string, { example: string; count: number }>();

  note(cause: string, example: string): void {
    const seen = this.byCause.get(cause);
    if (seen !== undefined) seen.count++;
    else if (this.byCause.size < MAX_CAUSES) this.byCause.set(cause, { example, count: 1 });
  }

  merge(notes: readonly Dropped[]): void {
    for (const { cause, example, count } of notes) {
      const seen = this.byCause.get(cause);
      if (seen !== undefined) seen.count += count;
      else if (this.byCause.size < MAX_CAUSES) this.byCause.set(cause, { example, count });
    }
  }

  list(): Dropped[] {
    return [...this.byCause].map(([cause, { example, count }]) => ({ cause, example, count }));
  }
}

/** "devlink port X: vfnum ... (and 41 more like it)". */
export function describeDropped({ example, count }: Dropped): string {
  return count > 1 ? `${example} (and ${count - 1} more like it in this refresh)` : example;
}
