/**
 * A hardware provider's health, from how current its picture of the hardware
 * is. It keeps serving either way (answers from the last good reading beat no
 * answers), but says since when and why the picture is not whole, for
 * ListProviders, the health service and metrics.
 */

import { SERVING, type HardwareView, type ProviderHealth } from '../registry/provider';

export function hardwareHealth(view: HardwareView): ProviderHealth {
  if (!view.degraded) return { ...SERVING, hardware: view };
  const since = view.since === undefined ? '' : ` since ${new Date(view.since).toISOString()}`;
  const why = view.reason ?? view.cause ?? 'unknown';
  if (view.stale) {
    const from = view.lastGoodAt === undefined ? 'no reading has succeeded yet' : `answers come from the reading of ${new Date(view.lastGoodAt).toISOString()}`;
    return { serving: true, reason: 'HARDWARE_VIEW_STALE', message: `re-reading the hardware fails${since} (${why}); ${from}`, hardware: view };
  }
  return { serving: true, reason: 'HARDWARE_VIEW_PARTIAL', message: `the hardware is read in part${since} (${why})`, hardware: view };
}
