/**
 * Repair mode (--repair) against a real ovn-controller that plugs ports
 * itself, with its built-in dummy provider (--enable-dummy-vif-plug), as
 * Debian's and Ubuntu's ovn-controller plugs `representor` with ovn-vif's:
 * the agent never creates a port and never touches one that is right, and
 * removes the ports ovn-controller leaves wrong (OVN issue #312) so that it
 * plugs afresh. Each case first shows what ovn-controller does alone.
 * vifplugd's dummy provider answers what ovn-controller's does (the lport's
 * name, cut to 15 bytes), so an `ovn-plugged=dummy` interface of another
 * name is what a changed VF is for the representor provider: the same code
 * path in ovn-controller.
 */

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { blocksCheckedBy, where } from '../helpers/docs';
import { runProvider, type ProviderProcess } from '../helpers/provider-process';
import { matchShape, steps } from '../helpers/session';
import { AGENT, World } from './harness';

let w: World;
/** The agent's --repair, read at each (re)start; repair mode alone, as beside Debian's ovn-controller. */
let repair = 'dummy';
beforeAll(async () => {
  w = await World.start({ types: '', agentArgs: () => ['--repair', repair], sandbox: { controllerArgs: ['--enable-dummy-vif-plug'] }, metrics: true });
});
let askew: ProviderProcess | undefined;
afterAll(async () => {
  await askew?.stop();
  await w?.stop();
});

/** ovn-controller's ports: name -> uuid. */
async function ovnPlugged(): Promise<Map<string, string>> {
  const out = await w.sandbox.vsctl('--bare', '--columns=name,_uuid', 'find', 'Interface', 'external_ids:ovn-plugged!=""');
  const lines = out.split('\n').filter(Boolean);
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i]!, lines[i + 1]!);
  return map;
}

async function waitOvnPlugged(names: string[], timeoutMs = 15_000): Promise<Map<string, string>> {
  let seen = new Map<string, string>();
  const want = [...names].sort().join(',');
  await w.sandbox
    .waitFor(
      async () => {
        seen = await ovnPlugged();
        return [...seen.keys()].sort().join(',') === want;
      },
      `ovn-controller's ports to be [${want}]`,
      { timeoutMs },
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}; they are [${[...seen.keys()]}]\n${w.agentLog()}`);
    });
  return seen;
}

/** Waits until ovn-controller has processed everything up to now (its nb_cfg caught up). */
function ovnControllerCaughtUp(): Promise<string> {
  return w.sandbox.nbctl('--timeout=20', '--wait=hv', 'sync');
}

function controllerLog(): string {
  return readFileSync(join(w.sandbox.dir, 'ovn-controller.log'), 'utf8');
}

const INCOMPATIBLE = /Attempt of incompatible change to existing port detected, please recreate port: (\S+)/g;

/** A port as ovn-controller's dummy provider marks its own, under a name the provider would not answer. */
function addWrongPort(name: string, lport: string): Promise<string> {
  return w.sandbox.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${lport}`, 'external_ids:ovn-plugged=dummy');
}

/** An lport requested to this chassis with no vif-plug-type. */
function lspPlain(lport: string): Promise<string> {
  return w.sandbox.nbctl('lsp-add', 'sw0', lport, '--', 'lsp-set-options', lport, `requested-chassis=${w.sandbox.hostname}`);
}

/** How many lines the agent logged that match `pattern`. */
function logged(pattern: RegExp): number {
  return w.agent?.logs.filter((l) => pattern.test(l.msg)).length ?? 0;
}

/** Puts an lport in the state ovn-controller refuses for ever: plugged as `wrong`, then asked to plug with dummy. */
async function wedge(lport: string, wrong: string): Promise<void> {
  const refusals = [...controllerLog().matchAll(INCOMPATIBLE)].filter((m) => m[1] === lport).length;
  await lspPlain(lport);
  await addWrongPort(wrong, lport);
  await w.sandbox.nbctl('set', 'Logical_Switch_Port', lport, 'options:vif-plug-type=dummy');
  await w.sandbox.waitFor(() => [...controllerLog().matchAll(INCOMPATIBLE)].filter((m) => m[1] === lport).length > refusals, `ovn-controller to refuse ${lport}`);
  // It claimed the wrong port all the same: the lport is up on an interface that is not what its options ask for.
  await w.sandbox.waitLportUp(lport);
  await ovnControllerCaughtUp();
  expect((await ovnPlugged()).has(wrong)).toBe(true);
}

async function repairsTotal(reason: string): Promise<number> {
  return Number(new RegExp(`^vifplug_ovn_repairs_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(await w.scrape())?.[1]);
}

describe('repair mode beside ovn-controller’s own plugging', () => {
  it('never creates a port and never touches one that is right', async () => {
    await w.lspAdd('d1', 'dummy');
    const plugged = await waitOvnPlugged(['d1']);
    await w.sandbox.waitLportUp('d1');
    await w.waitLog(/^checked ovn-controller's port for lport d1: the provider answers d1$/);
    await ovnControllerCaughtUp();
    expect(await ovnPlugged()).toEqual(plugged);
    expect([...(await w.pluggedIfaces()).keys()]).toEqual([]);
    const status = await w.status();
    expect(status.repair).toMatchObject({ types: ['dummy'], counts: { withdrawn: 0, incompatible: 0, 'not-requested': 0 }, recent: [], held: [] });
    expect(await repairsTotal('incompatible')).toBe(0);
  });

  it('removes the port when the plug request is withdrawn (ovn-controller leaves it); ovn-controller then stays unplugged', async () => {
    // ovn-controller alone leaves it plugged, and claimed.
    await w.agent!.stop('SIGTERM');
    await w.sandbox.nbctl('remove', 'Logical_Switch_Port', 'd1', 'options', 'vif-plug-type');
    await ovnControllerCaughtUp();
    await ovnControllerCaughtUp();
    expect([...(await ovnPlugged()).keys()]).toEqual(['d1']);
    expect(await w.sandbox.nbctl('get', 'Logical_Switch_Port', 'd1', 'up')).toBe('true');
    await w.startAgent();
    await waitOvnPlugged([]);
    await w.waitLog(/^repaired lport d1: removed d1 \(withdrawn\): lport d1 is still requested here but it no longer has options:vif-plug-type/);
    await ovnControllerCaughtUp();
    expect(await ovnPlugged()).toEqual(new Map());
    expect(await w.sandbox.nbctl('get', 'Logical_Switch_Port', 'd1', 'up')).toBe('false');
    const status = await w.status();
    expect(status.repair.counts.withdrawn).toBe(1);
    expect(status.repair.recent).toEqual([expect.objectContaining({ lport: 'd1', iface: 'd1', type: 'dummy', reason: 'withdrawn' })]);
    expect(await repairsTotal('withdrawn')).toBe(1);
    const text = await w.statusText();
    expect(text).toMatch(/^chassis hv1, bridge br-int, repair dummy; OVS connected, SB connected$/m);
    expect(text).toMatch(/^repairs of ovn-controller's ports \(dummy\) since start: withdrawn 1, incompatible 0, not-requested 0$/m);
    expect(text).toMatch(/^AGO\s+LPORT\s+TYPE\s+IFACE\s+REASON\s+MESSAGE$/m);
    expect(text).toMatch(/^\d+s\s+d1\s+dummy\s+d1\s+withdrawn\s+lport d1 is still requested here/m);
    // Asked again, ovn-controller plugs it again.
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'd1', 'options:vif-plug-type=dummy');
    await waitOvnPlugged(['d1']);
    await w.sandbox.waitLportUp('d1');
  });

  it('after an unclean exit of ovn-controller, removes its leftovers, which the restarted ovn-controller holds back; nothing before the agent has the whole picture', async () => {
    await w.agent!.stop('SIGTERM');
    await w.lspAdd('d3', 'dummy');
    await waitOvnPlugged(['d1', 'd3']);
    await w.sandbox.kill('ovn-controller');
    await w.sandbox.nbctl('lsp-del', 'd3');
    // A new agent that cannot read the Southbound DB yet removes nothing.
    await w.sandbox.stopDaemon('ovnsb_db');
    await w.startAgent();
    await w.waitStatus((s) => s.connected.ovs && !s.complete, 'the agent to read OVS but not the Southbound DB');
    expect([...(await ovnPlugged()).keys()].sort()).toEqual(['d1', 'd3']);
    // Both come back. ovn-controller, restarted, does not unplug during its start-up delay (a count of changes of
    // its Southbound conditions: on a quiet chassis it does not end, 40 s and more with OVN 23.03).
    await w.sandbox.startDaemon('ovn-controller');
    await w.sandbox.startDaemon('ovnsb_db');
    await waitOvnPlugged(['d1']);
    await w.waitLog(/^repaired lport d3: removed d3 \(not-requested\): lport d3: no Port_Binding requests it to this chassis any more/);
    expect(controllerLog()).not.toMatch(/Unplugging port d3 /);
    expect(await repairsTotal('not-requested')).toBe(1);
  });

  it('removes a port ovn-controller refuses to change ("incompatible change"), so that it plugs afresh and the port comes up; not while the provider cannot be asked', async () => {
    await w.agent!.stop('SIGTERM');
    await wedge('d2', 'wrong2');
    // vifplugd is away: nothing can be proven, nothing is removed.
    await w.vifplugd!.stop('SIGTERM');
    await w.startAgent();
    await w.waitLog(/^cannot check ovn-controller's port for lport d2, left as it is: VIFPLUGD_UNAVAILABLE/, 15_000);
    expect((await ovnPlugged()).has('wrong2')).toBe(true);
    // vifplugd back: its dummy provider answers d2, not wrong2; after the settle time the port goes and ovn-controller plugs d2.
    await w.startVifplugd();
    await waitOvnPlugged(['d1', 'd2']);
    await w.waitLog(/^repaired lport d2: removed wrong2 \(incompatible\): vifplugd's provider for vif-plug-type dummy now answers d2 for lport d2, plugged as wrong2/);
    await w.sandbox.waitLportUp('d2');
    expect(await w.sandbox.ovsGet('Interface', 'd2', 'external_ids')).toMatch(/iface-id=d2.*ovn-plugged=dummy/);
    expect((await w.status()).repair.recent).toEqual([expect.objectContaining({ lport: 'd2', iface: 'wrong2', reason: 'incompatible' })]);
    expect(await repairsTotal('incompatible')).toBe(1);
    // And it stays: the providers agree.
    await ovnControllerCaughtUp();
    expect((await w.status()).repair.counts.incompatible).toBe(1);
  });

  it('never removes a port whose provider declines: nothing is proven', async () => {
    await w.agent!.stop('SIGTERM');
    await wedge('d4', 'wrong4');
    // vifplugd's representor provider, asked about a dummy lport's options, refuses (no pf-mac).
    repair = 'dummy=representor';
    await w.startAgent();
    const cannot = /^cannot check ovn-controller's port for lport d4, left as it is: INVALID_OPTION/;
    await w.waitLog(cannot, 15_000);
    // A declined answer is not a differing one: whatever passes follow, the port stays.
    const before = logged(cannot);
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'd4', 'options:note=poke');
    await w.sandbox.waitFor(() => logged(cannot) > before, 'another pass over d4');
    await ovnControllerCaughtUp();
    expect((await ovnPlugged()).has('wrong4')).toBe(true);
    expect((await w.status()).repair.counts).toEqual({ withdrawn: 0, incompatible: 0, 'not-requested': 0 });
    // Its lport gone, the port is a leftover, which needs no provider's word (ovn-controller, running for a while
    // now, may remove it first: then the agent, whose verdict must hold for 2 s, has nothing left to do).
    await w.sandbox.nbctl('lsp-del', 'd4');
    await waitOvnPlugged(['d1', 'd2']);
  });

  it('never flaps a port between two providers that disagree: one repair, then the port is held and shown', async () => {
    // vifplugd's "askew" provider names z-<lport>; ovn-controller's dummy names the lport: they disagree on every lport.
    askew = await runProvider(process.execPath, [join(__dirname, 'askew-provider.js'), join(w.sandbox.dir, 'askew.sock'), `unix://${w.vifplugSocket}`], /^serving$/);
    await w.agent!.stop('SIGTERM');
    repair = 'dummy=askew';
    await w.startAgent();
    await w.lspAdd('d5', 'dummy');
    // The agent removes each port once (incompatible), ovn-controller plugs it again: held from then on.
    await w.waitLog(/^repaired lport d5: removed d5 \(incompatible\): vifplugd's provider for vif-plug-type dummy now answers z-d5/, 15_000);
    const lports = ['d1', 'd2', 'd5'];
    const held = await w.waitStatus((s) => lports.every((l) => s.repair.held.some((h) => h.lport === l)), 'd1, d2 and d5 to be held', 15_000);
    expect(held.repair.held).toEqual(lports.map((l) => expect.objectContaining({ lport: l, iface: l, type: 'dummy', reason: 'PROVIDERS_DISAGREE' })));
    await w.waitLog(/^not repairing interface d5 \(lport d5\): vifplug-ovn removed lport d5's port for vifplugd's answer z-d5, then ovn-controller's dummy provider plugged d5/);
    const replugged = await waitOvnPlugged(lports);
    expect(await w.scrape()).toMatch(/^vifplug_ovn_repairs_held 3$/m);
    expect(await w.statusText()).toMatch(/^held: lport d5, interface d5: PROVIDERS_DISAGREE: /m);
    // Longer than a verdict's settle time, and a pass after it: the ports are still the ones ovn-controller plugged.
    const settled = Date.now() + 2500;
    await w.sandbox.waitFor(() => Date.now() > settled, "a verdict's settle time to pass", { intervalMs: 100 });
    const checked = /^checked ovn-controller's port for lport d5: the provider answers z-d5$/;
    const before = logged(checked);
    await w.sandbox.nbctl('set', 'Logical_Switch_Port', 'd5', 'options:note=poke');
    await w.sandbox.waitFor(() => logged(checked) > before, 'another pass over d5');
    await ovnControllerCaughtUp();
    expect(await ovnPlugged()).toEqual(replugged);
    expect((await w.status()).repair.counts.incompatible).toBe(3);
    await w.sandbox.nbctl('lsp-del', 'd5');
    await waitOvnPlugged(['d1', 'd2']);
    await askew.stop('SIGTERM');
    askew = undefined;
  });

  it("runs docs/ovn.md's repair session as shown, typed into a shell", async () => {
    repair = 'dummy';
    await w.agent!.stop('SIGTERM');
    await w.startAgent();
    await w.waitStatus((s) => s.complete, 'the whole picture');
    // Nothing left to repair from the cases above: what the session shows is its own doing.
    await ovnControllerCaughtUp();
    expect((await w.status()).repair.recent).toEqual([]);
    const [block, ...others] = blocksCheckedBy('test/ovn/repair.test.ts');
    expect(others).toEqual([]);
    expect(block!.section).toBe("Repair mode beside ovn-controller's own plugging");
    const env = sessionEnv();
    for (const step of steps(block!.body, (c) => SESSION_COMMANDS.has(c.split(/\s/)[0] ?? ''))) {
      let got = { out: '', code: null as number | null };
      const deadline = Date.now() + 15_000;
      for (;;) {
        got = await typeCommand(env, step.command);
        if (matchShape(step.expected, got.out, new Map()) && (got.out === '' || got.out.endsWith('\n'))) break;
        if (Date.now() > deadline) throw new Error(`${where(block!)}\n$ ${step.command}\n--- the docs show:\n${step.expected}\n--- got (exit ${got.code}):\n${got.out}\n${w.agentLog()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(got.code, `$ ${step.command}`).toBe(0);
    }
  });
});

const SESSION_COMMANDS = new Set(['ovn-nbctl', 'ovs-vsctl', 'vifplug-ovn']);

/** The sandbox's environment for a shell, with vifplug-ovn on PATH as `npm install -g` puts it, and its status socket. */
function sessionEnv(): NodeJS.ProcessEnv {
  const bin = join(w.sandbox.dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'vifplug-ovn'), `#!/bin/sh\nexec '${process.execPath}' '${AGENT}' "$@"\n`);
  chmodSync(join(bin, 'vifplug-ovn'), 0o755);
  return { ...w.sandbox.env, PATH: `${bin}:${process.env.PATH}`, VIFPLUG_OVN_STATUS_SOCKET: w.statusSocket };
}

/** `command` typed into a shell: its stdout and stderr, and its exit code. */
function typeCommand(env: NodeJS.ProcessEnv, command: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    const sh = spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    sh.stdout.on('data', (c: Buffer) => (out += c.toString()));
    sh.stderr.on('data', (c: Buffer) => (out += c.toString()));
    sh.on('close', (code) => resolve({ out, code }));
  });
}
