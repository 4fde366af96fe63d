/**
 * An out-of-process VIF plug provider in TypeScript, for a NIC that numbers
 * its VFs from 1 (as Marvell OCTEON does) while its representors are named
 * from 0: a port asking for `vif-plug:<type>:vf-num=N` gets the representor
 * pf0vf<N-1>.
 *
 *   node examples/typescript/dist/provider.js --socket /run/vifplug/providers/onebased.sock \
 *     [--type onebased] [--register unix:///run/vifplug/vifplug.sock]
 *
 * It serves vifplug.provider.v1.Provider on --socket and, with --register,
 * registers itself with vifplugd there, and again whenever vifplugd restarts.
 */
import { parseArgs } from 'node:util';

import { PlugError, serveProvider } from 'vifplug';

const USAGE = `Usage: provider.js --socket /abs/path.sock [--type TYPE] [--register unix:///run/vifplug/vifplug.sock]

Serves a VIF plug provider for NICs that number their VFs from 1.

  --socket PATH     where to serve vifplug.provider.v1.Provider (an absolute path)
  --type TYPE       the provider type it registers as (default onebased)
  --register ADDR   register with vifplugd at ADDR, and again whenever it restarts
  --help, -h        this text`;

let values: { socket?: string; type?: string; register?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: { socket: { type: 'string' }, type: { type: 'string', default: 'onebased' }, register: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  }));
} catch (err) {
  process.stderr.write(`provider.js: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}\nTry 'provider.js --help'.\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.socket === undefined) {
  process.stderr.write("provider.js: --socket is required\nTry 'provider.js --help'.\n");
  process.exit(2);
}
const type = values.type!;
const option = `vif-plug:${type}:vf-num`;

async function main(): Promise<void> {
  const provider = await serveProvider(
    {
      type,
      version: 'example-1',
      preparePort(ctxIn) {
        if (ctxIn.opType === 'remove') return { plug: true };
        const vfNum = ctxIn.lportOptions.get(option);
        if (vfNum === undefined) {
          return { plug: false, reason: 'NO_VF_NUM', message: `lport ${ctxIn.lportName} has no ${option} option; set it to the 1-based VF number` };
        }
        if (!/^[1-9][0-9]{0,4}$/.test(vfNum) || Number(vfNum) > 65536) {
          throw new PlugError('INVALID_ARGUMENT', 'INVALID_OPTION', `${option}="${vfNum}" is not a VF number from 1 to 65536`, {
            metadata: { option },
          });
        }
        return { plug: true, out: { name: `pf0vf${Number(vfNum) - 1}`, type: '', ifaceOptions: new Map() } };
      },
    },
    { socket: values.socket!, register: values.register === undefined ? undefined : { daemon: values.register } },
  );
  process.stdout.write(`serving provider "${type}" at ${provider.endpoint}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void provider.close().then(() => process.exit(0)));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`provider: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
