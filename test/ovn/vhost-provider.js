// @ts-check
/**
 * A provider for the use_dpdk test, written as a provider outside this
 * repository is (the package's SDK, by its name): vhost-user ports. Where
 * the integration bridge runs OVS's userspace datapath (use_dpdk) it answers
 * a dpdkvhostuserclient interface and its socket path; elsewhere an internal
 * port. Usage: node vhost-provider.js SOCKET VIFPLUGD_TARGET
 */
const { serveProvider } = require('vifplug');

const [socket, daemon] = process.argv.slice(2);
serveProvider(
  {
    type: 'vhost',
    maintainedIfaceOptions: ['vhost-server-path'],
    preparePort(ctxIn) {
      if (ctxIn.opType === 'remove') return { plug: true };
      const name = ctxIn.lportName.slice(0, 15);
      if (!ctxIn.useDpdk) return { plug: true, out: { name, type: 'internal', ifaceOptions: new Map() } };
      return { plug: true, out: { name, type: 'dpdkvhostuserclient', ifaceOptions: new Map([['vhost-server-path', `/run/vhost/${name}.sock`]]) } };
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
