/**
 * Run-time loading of product modules that may not exist yet. Cases built on
 * them are plug-ins: when a module or an export is missing, the case is
 * reported as "skipped: <why>" instead of failing the run, and the bench never
 * imports such modules statically (so the typecheck does not depend on them).
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';

import { REPO, SRC_JS, BENCH_DIST } from '../lib/paths';

export type Probe<T> = { readonly ok: true; readonly value: T; readonly note?: string } | { readonly ok: false; readonly why: string };

export const skip = (why: string): Probe<never> => ({ ok: false, why });

/** A compiled module of src/ (path without extension), or why it cannot be used. */
export function loadSrc(rel: string): Probe<Record<string, unknown>> {
  return loadJs(join(SRC_JS, `${rel}.js`), `src/${rel}.ts`);
}

/** A compiled module of test/ (e.g. helpers/fake-host). */
export function loadTest(rel: string): Probe<Record<string, unknown>> {
  return loadJs(join(BENCH_DIST, 'test', `${rel}.js`), `test/${rel}.ts`);
}

function loadJs(file: string, source: string): Probe<Record<string, unknown>> {
  if (!existsSync(join(REPO, source))) return skip(`${source} does not exist yet`);
  if (!existsSync(file)) return skip(`${source} exists but was not compiled (${relative(REPO, file)} missing)`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { ok: true, value: require(file) as Record<string, unknown> };
  } catch (err) {
    return skip(`${source} fails to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

/** The named exports of a module, each checked to be a function (classes included). */
export function functions<K extends string>(mod: Probe<Record<string, unknown>>, source: string, names: readonly K[]): Probe<Record<K, (...args: any[]) => any>> {
  if (!mod.ok) return mod;
  const missing = names.filter((n) => typeof mod.value[n] !== 'function');
  if (missing.length > 0) return skip(`${source} does not export ${missing.join(', ')} (exports: ${Object.keys(mod.value).join(', ') || 'none'})`);
  return { ok: true, value: mod.value as Record<K, (...args: any[]) => any> };
}
