/**
 * deploy/systemd under a real systemd (`npm run test:container`): a
 * container boots systemd as PID 1 and stands in for an OVN chassis. The
 * images stage installed the package there as docs/deploy.md#systemd says
 * (npm, from a checkout: the `host` image); this test runs the docs' own
 * commands for the group and the units, unchanged files, in that checkout,
 * and both units start. Beside it, a real OVN in user space (OVS,
 * Northbound and Southbound databases, northd, ovn-controller: the
 * OvnSandbox), whose directory is the container's /run/openvswitch.
 *
 * What it shows: vifplugd serves as a dynamic user on a socket of the
 * static group vifplug; root without capabilities is refused there, a
 * member of the group is let in; vifplug-ovn, root without a single
 * capability and in that group, plugs a port that the Southbound DB asks for
 * through vifplugd (on a fake host /sys), and ovn-controller binds it; with
 * the docs' drop-in it does the same as the user OVS runs as; reload and
 * stop behave.
 */

import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HOST_CHECKOUT, IMAGES, INSTALL_LABEL } from '../../scripts/ci/images';
import { Podman, writeContainersConf } from '../../scripts/ci/podman';
import { describeOutput, type Result } from '../../scripts/ci/process';
import { blocksCheckedBy, where } from '../helpers/docs';
import { OvnSandbox } from '../helpers/ovn-sandbox';
import { buildFakeSysfs, type FakeHost } from './fake-sysfs';

const THIS = 'test/container/systemd.e2e.ts';
const SOCKET = '/run/vifplug/vifplug.sock';
/** Where the fake host /sys is mounted, and the setting that points vifplugd at it. */
const HOST_SYS = '/srv/host-sys';
/** The agent's lport, and the VF that plugs it. */
const LPORT = 'sd-lsp1';
const VF = 2;
/** Connects to a unix socket and prints `connected` or the error code (EACCES...): what the kernel allows, nothing else. */
const CONNECT = "require('net').connect(process.argv[1]).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(1)})";

const started = Date.now();
const timings: string[] = [];
function log(line: string): void {
  process.stderr.write(`[systemd test +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}

let work: string | undefined;
let podman: Podman;
let sandbox: OvnSandbox | undefined;
let host: FakeHost;
let name: string | undefined;
let vifplugGid: number;

/** The docs' blocks this test runs: the package install, the units' install, the drop-in for an OVS user. */
function docsBlocks(): { pkg: string; units: string; dropIn: string } {
  const blocks = blocksCheckedBy(THIS);
  const pkg = blocks.filter((b) => b.lang === 'sh' && b.body.includes('npm install -g'));
  const units = blocks.filter((b) => b.lang === 'sh' && b.body.includes('systemctl enable'));
  const dropIn = blocks.filter((b) => b.lang === 'ini');
  for (const [what, found] of [['the package install', pkg], ['the units install', units], ['the drop-in', dropIn]] as const) {
    if (found.length !== 1) throw new Error(`docs: expected one block with ${what} checked by ${THIS}, found ${found.length} (${blocks.map(where).join(', ')})`);
  }
  return { pkg: pkg[0]!.body.trim(), units: units[0]!.body, dropIn: dropIn[0]!.body };
}

/** A command in the container; throws with its output unless it exits 0. */
function inHost(...command: string[]): Promise<Result> {
  return podman.must(['exec', name!, ...command]);
}
function tryInHost(...command: string[]): Promise<Result> {
  return podman.run(['exec', name!, ...command]);
}
async function journal(unit: string): Promise<string> {
  return (await tryInHost('journalctl', '--unit', unit, '--no-pager', '--output', 'cat')).stdout;
}
async function property(unit: string, key: string): Promise<string> {
  return (await inHost('systemctl', 'show', '--property', key, '--value', unit)).stdout.trim();
}
/** /proc/PID/status of a unit's main process, as fields. */
async function mainProcess(unit: string): Promise<(field: string) => string[]> {
  const pid = await property(unit, 'MainPID');
  expect(Number(pid), `${unit} has no main process\n${await journal(unit)}`).toBeGreaterThan(0);
  const status = (await inHost('cat', `/proc/${pid}/status`)).stdout;
  return (field) => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/) ?? [];
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, explain: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${await explain()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The agent's status as `vifplug-ovn status` prints it for root, the command the docs show. */
async function agentStatus(): Promise<string> {
  const result = await tryInHost('vifplug-ovn', 'status');
  return describeOutput(result);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vifplug-systemd-test-'));
  podman = new Podman(writeContainersConf(work));
  // Built by the images stage that `npm run test:container` runs first (scripts/ci/images.ts), not here.
  if (!(await podman.exists(IMAGES.host))) throw new Error(`no image ${IMAGES.host}: run \`npm run test:container\`, which prepares the images before the tests`);

  // OVN beside the container. Under /run, not /tmp: the agent's unit has PrivateTmp=.
  sandbox = await phase('ovn', () => OvnSandbox.start({ chassis: 'hv1', dir: mkdtempSync('/run/ovn-') }));
  host = buildFakeSysfs(join(work, 'sys'));
  const env = join(work, 'vifplugd.env');
  writeFileSync(env, `# The test's fake host /sys, for the representor provider.\nVIFPLUG_SYSFS_ROOT=${HOST_SYS}\n`);

  name = `vifplug-systemd-test-${process.pid}`;
  await phase('boot', async () => {
    await podman.must([
      'run', '--detach', '--name', name!,
      '--systemd=always',
      // CAP_SYS_ADMIN: systemd needs it to set up the units' mount namespaces
      // (ProtectSystem=, PrivateTmp=, ...), as it has on a real host.
      '--cap-add=SYS_ADMIN',
      '--network=none',
      // OVS's runtime directory, and the sandbox's own path, which its
      // ovn-remote (unix:DIR/sb.sock) names.
      '--volume', `${sandbox!.dir}:/run/openvswitch`,
      '--volume', `${sandbox!.dir}:${sandbox!.dir}`,
      '--volume', `${host.root}:${HOST_SYS}:ro`,
      '--volume', `${env}:/etc/vifplug/vifplugd.env:ro`,
      IMAGES.host,
    ]);
    await until(
      'systemd did not finish booting',
      async () => /^(running|degraded)$/.test((await tryInHost('systemctl', 'is-system-running')).stdout.trim()),
      60_000,
      async () => describeOutput(await tryInHost('systemctl', '--failed', '--no-pager')),
    );
  });

  // The docs' commands, as they are, in the checkout the package was installed from.
  const { units } = docsBlocks();
  await phase('install units', async () => {
    await podman.must(['exec', '--workdir', HOST_CHECKOUT, name!, 'sh', '-ec', units], { hint: "docs/deploy.md's commands failed in the container" });
  });
  vifplugGid = Number((await inHost('getent', 'group', 'vifplug')).stdout.split(':')[2]);

  await phase('units up', () =>
    until(
      'vifplugd.service and vifplug-ovn.service did not come up',
      async () =>
        (await tryInHost('systemctl', 'is-active', 'vifplugd', 'vifplug-ovn')).code === 0 && (await journal('vifplugd')).includes('vifplugd serving'),
      30_000,
      async () =>
        describeOutput(await tryInHost('systemctl', 'status', '--no-pager', 'vifplugd', 'vifplug-ovn')) + (await journal('vifplugd')) + (await journal('vifplug-ovn')),
    ),
  );
  log(`both units up; setup took ${timings.join(', ')}`);
});

afterAll(async () => {
  if (podman !== undefined && name !== undefined) await podman.run(['rm', '--force', '--time', '0', name]);
  await sandbox?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)}s (${timings.join(', ')})`);
});

describe('deploy/systemd, installed as docs/deploy.md shows, under systemd', () => {
  it("installs the package with the docs' commands, and the units find its programs by name", async () => {
    expect(docsBlocks().pkg).toBe((await podman.label(IMAGES.host, INSTALL_LABEL))?.trim());
    const prefix = (await inHost('npm', 'prefix', '-g')).stdout.trim();
    for (const unit of ['vifplugd', 'vifplug-ovn']) {
      // ExecStart= keeps the bare name; systemd resolves it when it starts the program.
      expect(await property(unit, 'ExecStart')).toContain(`path=${unit} ;`);
      // The script npm linked into its prefix's bin/, run by the node its #! line finds.
      const pid = await property(unit, 'MainPID');
      const argv = (await inHost('cat', `/proc/${pid}/cmdline`)).stdout.split('\0');
      expect(argv[1], argv.join(' ')).toBe(`${prefix}/bin/${unit}`);
    }
  });

  it('runs vifplugd as a dynamic user in the static group vifplug, without capabilities, under a seccomp filter', async () => {
    const field = await mainProcess('vifplugd');
    // systemd's dynamic range (systemd.exec(5)).
    const uid = Number(field('Uid')[0]);
    expect(uid).toBeGreaterThanOrEqual(61184);
    expect(uid).toBeLessThanOrEqual(65519);
    expect(field('Gid')).toEqual(Array(4).fill(String(vifplugGid)));
    expect(vifplugGid).toBeLessThan(1000);
    expect(field('CapEff')).toEqual(['0000000000000000']);
    expect(field('CapBnd')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
    expect(field('Seccomp')).toEqual(['2']);
  });

  it('serves on a socket of mode 0660 in a directory of mode 0750, both of the group vifplug', async () => {
    const stat = await inHost('stat', '--format', '%a %G', '/run/vifplug', SOCKET);
    expect(stat.stdout.trim().split('\n')).toEqual(['750 vifplug', '660 vifplug']);
  });

  it('lets in the members of vifplug and nobody else, not even root without capabilities', async () => {
    const connect = (...setpriv: string[]) => tryInHost('setpriv', ...setpriv, 'node', '-e', CONNECT, SOCKET);
    // Root as a hardened unit runs it: no capability, no group.
    const root = await connect('--clear-groups', '--inh-caps=-all', '--bounding-set=-all');
    expect(root.stdout.trim(), describeOutput(root)).toBe('EACCES');
    const stranger = await connect('--reuid=nobody', '--regid=nogroup', '--clear-groups');
    expect(stranger.stdout.trim(), describeOutput(stranger)).toBe('EACCES');
    const member = await connect('--reuid=nobody', '--regid=nogroup', `--groups=${vifplugGid}`);
    expect(member.stdout.trim(), describeOutput(member)).toBe('connected');
    // And the docs' check, as root and as a member.
    const health = await tryInHost('vifplugctl', '--socket', SOCKET, 'health');
    expect(health.code, describeOutput(health)).toBe(0);
    expect(health.stdout).toMatch(/SERVING/);
    const asMember = await tryInHost('setpriv', '--reuid=nobody', '--regid=nogroup', `--groups=${vifplugGid}`, 'vifplugctl', '--socket', SOCKET, 'health');
    expect(asMember.code, describeOutput(asMember)).toBe(0);
  });

  it('runs vifplug-ovn as root in the group vifplug, with no capability at all', async () => {
    const field = await mainProcess('vifplug-ovn');
    expect(field('Uid')).toEqual(['0', '0', '0', '0']);
    expect(field('Groups')).toContain(String(vifplugGid));
    expect(field('CapEff')).toEqual(['0000000000000000']);
    expect(field('CapBnd')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
  });

  it('plugs the port the Southbound DB requests through vifplugd; ovn-controller binds it', async () => {
    const s = sandbox!;
    await s.nbctl(
      'ls-add', 'sw0', '--', 'lsp-add', 'sw0', LPORT, '--', 'lsp-set-options', LPORT,
      `requested-chassis=${s.hostname}`, 'vif-plug-type=vifplug-representor',
      `vif-plug:representor:pf-mac=${host.pfMac}`, `vif-plug:representor:vf-num=${VF}`,
    );
    await phase('plug', () =>
      s.waitLportUp(LPORT, 30_000).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await agentStatus()}\n${await journal('vifplug-ovn')}`);
      }),
    );
    const netdev = host.vfRepresentors.get(VF)!;
    expect(await s.ovsGet('Interface', netdev, 'external_ids')).toContain(`iface-id=${LPORT}`);
    const status = await agentStatus();
    expect(status).toMatch(new RegExp(`^${LPORT}\\s+vifplug-representor\\s+plugged\\s+${netdev}\\b`, 'm'));
    expect(status).not.toMatch(/VIFPLUGD_UNAVAILABLE|EACCES/);
  });

  it("plugs as the user OVS runs as, with the docs' drop-in, where only that user may use OVS's socket", async () => {
    const s = sandbox!;
    const { dropIn } = docsBlocks();
    const user = /^User=(\S+)$/m.exec(dropIn)?.[1];
    expect(user, dropIn).toBeDefined();
    // OVS as a user of its own, as RHEL runs it: the user, and OVS's
    // sockets (db.sock; here the Southbound DB's too, which such a node
    // reaches over the network) that user's with mode 0750, in a directory
    // of mode 0755. The container shares the host's uids.
    await inHost('useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user!);
    const [uid, gid] = (await inHost('sh', '-c', `id -u ${user!}; id -g ${user!}`)).stdout.trim().split('\n').map(Number);
    chmodSync(s.dir, 0o755);
    for (const socket of ['db.sock', 'sb.sock']) {
      chownSync(join(s.dir, socket), uid!, gid!);
      chmodSync(join(s.dir, socket), 0o750);
    }
    const waitingFor = async (reason: string) => (await tryInHost('vifplug-ovn', 'status', '--json')).stdout.includes(`"${reason}"`);
    try {
      // As shipped, root without capabilities is now refused by OVS: the agent waits.
      await inHost('systemctl', 'restart', 'vifplug-ovn');
      await until('the agent as root did not report OVS_UNREACHABLE', () => waitingFor('OVS_UNREACHABLE'), 20_000, agentStatus);

      const dir = '/etc/systemd/system/vifplug-ovn.service.d';
      await inHost('mkdir', '-p', dir);
      await podman.must(['exec', '--interactive', name!, 'sh', '-c', `cat > ${dir}/override.conf`], { input: dropIn });
      await inHost('systemctl', 'daemon-reload');
      await inHost('systemctl', 'restart', 'vifplug-ovn');
      const netdev = host.vfRepresentors.get(VF)!;
      await until(
        `the agent as ${user!} did not find ${LPORT} plugged`,
        async () => new RegExp(`^${LPORT}\\s+vifplug-representor\\s+plugged\\s+${netdev}\\b`, 'm').test(await agentStatus()),
        20_000,
        async () => (await agentStatus()) + (await journal('vifplug-ovn')),
      );
      const field = await mainProcess('vifplug-ovn');
      expect(field('Uid')).toEqual(Array(4).fill(String(uid)));
      expect(field('Groups')).toContain(String(vifplugGid));
      expect(field('CapEff')).toEqual(['0000000000000000']);
      // A new port, asked for now, is plugged by the agent as that user.
      await s.nbctl('lsp-add', 'sw0', `${LPORT}-2`, '--', 'lsp-set-options', `${LPORT}-2`, `requested-chassis=${s.hostname}`, 'vif-plug-type=vifplug-representor', `vif-plug:representor:pf-mac=${host.pfMac}`, `vif-plug:representor:vf-num=${VF + 1}`);
      await s.waitLportUp(`${LPORT}-2`, 30_000).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await agentStatus()}\n${await journal('vifplug-ovn')}`);
      });
      expect(await agentStatus()).not.toMatch(/OVS_UNREACHABLE|VIFPLUGD_UNAVAILABLE/);
    } finally {
      // OVS as root again, and the unit as shipped.
      for (const socket of ['db.sock', 'sb.sock']) chownSync(join(s.dir, socket), 0, 0);
      await tryInHost('rm', '-rf', '/etc/systemd/system/vifplug-ovn.service.d');
      await tryInHost('systemctl', 'daemon-reload');
      await tryInHost('systemctl', 'restart', 'vifplug-ovn');
    }
  });

  it("keeps vifplugd's helpers (ip monitor) running under the unit's syscall filter", async () => {
    // Let a failing helper show: the daemon restarts it after 1 s, then 2 s.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await journal('vifplugd')).not.toMatch(/monitor exited with status/);
  });

  it('reloads vifplugd, and stops both with exit status 0: the socket directory goes, the ports stay', async () => {
    await inHost('systemctl', 'reload', 'vifplugd');
    expect(await property('vifplugd', 'ActiveState')).toBe('active');
    expect(await property('vifplugd', 'NRestarts')).toBe('0');
    await inHost('systemctl', 'stop', 'vifplug-ovn', 'vifplugd');
    for (const unit of ['vifplugd', 'vifplug-ovn']) {
      expect(await property(unit, 'ExecMainStatus'), await journal(unit)).toBe('0');
      expect(await property(unit, 'Result'), unit).toBe('success');
    }
    expect(await journal('vifplugd')).toContain('vifplugd stopped');
    expect((await tryInHost('test', '-e', '/run/vifplug')).code).not.toBe(0);
    expect(await sandbox!.bridgePorts()).toContain(host.vfRepresentors.get(VF));
  });
});
