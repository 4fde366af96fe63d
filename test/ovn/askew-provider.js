// @ts-check
/**
 * A provider that disagrees with ovn-controller's built-in dummy one, for
 * repair mode's test of two providers that name different interfaces for
 * the same lport: it answers "z-<lport>" where the dummy answers the lport's
 * name. Written with the package's SDK, as a provider outside this
 * repository is. Usage: node askew-provider.js SOCKET VIFPLUGD_TARGET
 */
const { serveProvider } = require('vifplug');

const [socket, daemon] = process.argv.slice(2);
serveProvider(
  {
    type: 'askew',
    preparePort(ctxIn) {
      if (ctxIn.opType === 'remove') return { plug: true };
      return { plug: true, out: { name: `z-${ctxIn.lportName}`.slice(0, 15), type: 'internal', ifaceOptions: new Map() } };
    },
  },
  { socket, register: { daemon: daemon ?? '' } },
).then(
  () => process.stdout.write('serving\n'),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
