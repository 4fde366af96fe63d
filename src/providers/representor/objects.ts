/** Small helpers for plain data objects. */

/**
 * A copy without the keys whose value is undefined, so that records compare
 * and print cleanly. Builds a new object instead of deleting keys: delete
 * turns a V8 object into a slow dictionary, which costs at 16k records.
 */
export function withoutUndefined<T extends object>(value: T): T {
  const out = {} as T;
  for (const key in value) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

/** Code-unit order; localeCompare is locale-dependent and far slower on large sorts. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
