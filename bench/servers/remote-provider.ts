/**
 * An out-of-process provider built with the SDK, as a vendor would write
 * one, answering exactly as the built-in dummy does (so that its replies
 * through vifplugd have the dummy's size and the same floor applies). Forked
 * by the remote family; serves on a unix socket in the run's directory.
 */
import { join } from 'node:path';

import { DUMMY_OPTION, interfaceName } from '../../src/providers/dummy/dummy';
import { serveProvider, type ServedProvider } from '../../src/sdk';
import { serveParent } from '../lib/ipc';

const IFACE_OPTIONS: ReadonlyMap<string, string> = new Map([[DUMMY_OPTION, 'value']]);

let served: ServedProvider | undefined;

serveParent({
  async start(arg: { dir: string; type: string }): Promise<{ endpoint: string }> {
    served = await serveProvider(
      {
        type: arg.type,
        maintainedIfaceOptions: [DUMMY_OPTION],
        preparePort: (ctxIn) =>
          ctxIn.opType === 'create' ? { plug: true, out: { name: interfaceName(ctxIn.lportName), type: 'internal', ifaceOptions: IFACE_OPTIONS } } : { plug: true },
      },
      { socket: join(arg.dir, `${arg.type}.sock`) },
    );
    return { endpoint: served.endpoint };
  },

  async beforeExit() {
    await served?.close();
  },
});
