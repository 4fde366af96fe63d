import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OvnSandbox, type SandboxDaemon } from '../helpers/ovn-sandbox';
import { isRunning } from '../helpers/processes';

/**
 * The sandbox itself, and the OVN facts the vifplug-ovn agent is built on:
 * a port that carries external_ids:iface-id is claimed by a stock
 * ovn-controller and comes up, and lsp-del leaves the port in OVS for its
 * creator to remove.
 */
describe('OvnSandbox', () => {
  let sandbox: OvnSandbox;
  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ chassis: 'hv1' });
  });
  afterAll(() => sandbox?.stop());

  it('runs every daemon under one short directory, with its chassis registered', async () => {
    expect(sandbox.dir.length).toBeLessThan(40);
    for (const daemon of ['ovsdb-server', 'ovs-vswitchd', 'ovnnb_db', 'ovnsb_db', 'ovn-northd', 'ovn-controller'] as SandboxDaemon[]) {
      expect(sandbox.pid(daemon), daemon).toBeGreaterThan(0);
    }
    expect(await sandbox.sbctl('--bare', '--columns=name,hostname', 'list', 'Chassis')).toBe(`hv1\n${sandbox.hostname}`);
    expect(await sandbox.bridgePorts()).toEqual([]);
  });

  it('lets a port plugged from outside ovn-controller be claimed and come up; lsp-del leaves it in place', async () => {
    await sandbox.nbctl('ls-add', 'sw0', '--', 'lsp-add', 'sw0', 'lsp1', '--', 'lsp-set-options', 'lsp1', `requested-chassis=${sandbox.hostname}`);
    await sandbox.vsctl('add-port', 'br-int', 'pf0vf1', '--', 'set', 'Interface', 'pf0vf1', 'external_ids:iface-id=lsp1');
    await sandbox.waitLportUp('lsp1');
    expect(await sandbox.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', 'logical_port=lsp1')).not.toBe('');
    await sandbox.nbctl('--wait=hv', 'lsp-del', 'lsp1');
    expect(await sandbox.bridgePorts()).toEqual(['pf0vf1']);
    await sandbox.waitFor(async () => !(await sandbox.ovsGet('Interface', 'pf0vf1', 'external_ids')).includes('ovn-installed='), 'ovn-installed to go');
  });

  it('restarts a killed database with its data, and stops every daemon by pid', async () => {
    await sandbox.kill('ovnsb_db');
    expect(sandbox.pid('ovnsb_db')).toBeUndefined();
    await sandbox.startDaemon('ovnsb_db');
    await sandbox.nbctl('--timeout=10', '--wait=hv', 'sync');
    expect(await sandbox.sbctl('--bare', '--columns=name', 'list', 'Chassis')).toBe('hv1');

    const other = await OvnSandbox.start({ chassis: 'hv2', ovnController: false });
    const pids = (['ovsdb-server', 'ovs-vswitchd', 'ovnnb_db', 'ovnsb_db', 'ovn-northd'] as SandboxDaemon[]).map((d) => other.pid(d)!);
    await other.stop();
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });
});
