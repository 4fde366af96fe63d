/** Order statistics over plain arrays of numbers. */

export function sorted(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/** Nearest-rank quantile of already sorted values (q in [0, 1]). */
export function quantileSorted(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const rank = Math.ceil(q * values.length) - 1;
  return values[Math.min(values.length - 1, Math.max(0, rank))]!;
}

/** The median (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return NaN;
  const s = sorted(finite);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.max(...values);
}

/** Rounds for JSON: keeps figures readable without losing what matters. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
