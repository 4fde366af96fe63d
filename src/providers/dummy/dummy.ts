/**
 * The `dummy` provider, the seed's sandbox one: it plugs every port as an
 * OVS internal interface named after the lport, so that a controller, a test
 * or a benchmark can run the whole port cycle without hardware.
 */

import { IFNAMSIZ, type PortCtxIn, type PrepareResult, type ProviderClass, type ProviderInstance } from '../../registry';

export const DUMMY_TYPE = 'dummy';
export const DUMMY_OPTION = 'plug-dummy-option';

/**
 * The seed's sandbox provider: it plugs every port as an OVS internal
 * interface named after the lport, so that controllers and tests can exercise
 * the whole cycle without hardware.
 */
export function dummyProvider(): ProviderClass {
  return {
    type: DUMMY_TYPE,
    maintainedIfaceOptions: [DUMMY_OPTION],
    open: (): ProviderInstance => ({
      run: () => true,
      preparePort,
    }),
  };
}

/** The same options for every port; shared, since every live ctx keeps its answer. */
const IFACE_OPTIONS: ReadonlyMap<string, string> = new Map([[DUMMY_OPTION, 'value']]);

function preparePort(ctxIn: PortCtxIn): PrepareResult {
  if (ctxIn.opType !== 'create') return { plug: true };
  return { plug: true, out: { name: interfaceName(ctxIn.lportName), type: 'internal', ifaceOptions: IFACE_OPTIONS } };
}

/**
 * The lport name cut to IFNAMSIZ - 1 bytes, as the seed does, but never in
 * the middle of a UTF-8 sequence: the answer must stay a valid proto string.
 */
export function interfaceName(lportName: string): string {
  if (Buffer.byteLength(lportName) < IFNAMSIZ) return lportName;
  const bytes = Buffer.from(lportName, 'utf8');
  let end = IFNAMSIZ - 1;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}
