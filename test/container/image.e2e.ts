/**
 * The container test (`npm run test:container`): takes the image the images
 * stage built from the top-level Dockerfile, runs it as a sidecar would run
 * (read-only root, no capabilities, no new privileges, the socket directory
 * from the host, a fake host /sys mounted read-only), and checks it from the
 * host through the socket; and the image's vifplug-ovn entrypoint beside it,
 * as deploy/kubernetes runs it. (systemd.e2e.ts runs deploy/systemd.) The
 * images are prepared before the tests (scripts/ci/images.ts), where a cold
 * machine's minutes have their own budget.
 */

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ServingStatus, VifplugClient } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { readDeployment } from '../deploy/daemonset';
import { OvnSandbox } from '../helpers/ovn-sandbox';
import { buildFakeSysfs, type FakeHost } from './fake-sysfs';
import { IMAGES } from '../../scripts/ci/images';
import { Podman, writeContainersConf } from '../../scripts/ci/podman';
import { describeOutput } from '../../scripts/ci/process';

const ROOT = join(__dirname, '..', '..');
/** The local stand-in for node:24-bookworm-slim the image is built on. */
const BASE_IMAGE = IMAGES.node24;
/** HEAD, which the images stage labelled the image with. */
const REVISION = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
/** The image's user (Dockerfile USER). */
const UID = 65532;
/**
 * The vifplugd container's environment in the shipped DaemonSet: its
 * NODE_OPTIONS size V8's heap, and node refuses to start on an option its
 * version does not allow there. The image's node (24) is not the one the
 * other tests run on, so only this test shows that it accepts them.
 */
const DAEMONSET_ENV = readDeployment(join(ROOT, 'deploy', 'kubernetes', 'daemonset.yaml')).env;

const started = Date.now();
const timings: string[] = [];
function log(line: string): void {
  process.stderr.write(`[container test +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}

let work: string;
let podman: Podman;
let image: string | undefined;
let container: string | undefined;
let socketDir: string;
let host: FakeHost;
let help: string;
let client: VifplugClient;

/** The daemon's logs, for failure messages. */
async function containerLogs(): Promise<string> {
  if (container === undefined) return '(no container)';
  const result = await podman.run(['logs', container]);
  return describeOutput(result);
}

async function waitUntilServing(socket: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    const state = await podman.run(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', container!]);
    if (!state.stdout.startsWith('running')) {
      throw new Error(`the container stopped before serving (state: ${state.stdout.trim()})\n${await containerLogs()}`);
    }
    if (existsSync(socket)) {
      try {
        if ((await client.health('', { deadlineMs: 1000 })) === ServingStatus.SERVING) return;
      } catch (err) {
        last = String(err);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`vifplugd did not serve on ${socket} within 30 s (last health answer: ${last || 'no socket'})\n${await containerLogs()}`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vifplug-container-test-'));
  podman = new Podman(writeContainersConf(work));
  // Built by the images stage that `npm run test:container` runs first (scripts/ci/images.ts), not here.
  for (const tag of [IMAGES.vifplug]) {
    if (!(await podman.exists(tag))) throw new Error(`no image ${tag}: run \`npm run test:container\`, which prepares the images before the tests`);
  }
  image = IMAGES.vifplug;

  help = (await podman.must(['run', '--rm', '--no-healthcheck', '--network=none', image, '--help'], { hint: 'the image does not run `vifplugd --help`' }))
    .stdout;

  // The socket directory as a host would provide it, owned by the image's user.
  socketDir = join(work, 'run-vifplug');
  mkdirSync(socketDir, { mode: 0o750 });
  chownSync(socketDir, UID, UID);
  host = buildFakeSysfs(join(work, 'sys'));
  client = new VifplugClient(`unix://${join(socketDir, 'vifplug.sock')}`);

  const name = `vifplug-container-test-${process.pid}`;
  await phase('start', async () => {
    await podman.must([
      'run',
      '--detach',
      '--name',
      name,
      // As the Kubernetes example runs it; --read-only-tmpfs=false: no writable /tmp or /run either, as with Docker.
      '--read-only',
      '--read-only-tmpfs=false',
      '--cap-drop=ALL',
      '--security-opt=no-new-privileges',
      // The test talks through the socket; the representor provider falls back to sysfs.
      '--network=none',
      '--volume',
      `${socketDir}:/run/vifplug`,
      '--volume',
      `${host.root}:/host/sys:ro`,
      ...Object.entries(DAEMONSET_ENV).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
      image!,
      '--sysfs-root',
      '/host/sys',
    ]);
    container = name;
    await waitUntilServing(join(socketDir, 'vifplug.sock'));
  });
  log(`serving; setup took ${timings.join(', ')}`);
});

afterAll(async () => {
  client?.close();
  if (podman !== undefined) {
    if (container !== undefined) await podman.run(['rm', '--force', '--time', '0', container]);
  }
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)}s (${timings.join(', ')})`);
});

describe('the image', () => {
  it('runs vifplugd as a numeric non-root user, with a health check, OCI labels and the socket volume', async () => {
    const inspect = JSON.parse((await podman.must(['image', 'inspect', image!])).stdout) as {
      Size: number;
      /** podman shows it here; Docker under Config. */
      Healthcheck?: { Test: string[] };
      Config: {
        User: string;
        Entrypoint: string[];
        Cmd?: string[] | null;
        Volumes?: Record<string, object>;
        Labels: Record<string, string>;
        Healthcheck?: { Test: string[] };
        StopSignal?: string;
      };
    }[];
    const config = inspect[0]!.Config;
    const healthcheck = inspect[0]!.Healthcheck ?? config.Healthcheck;
    expect(config.User).toBe(`${UID}:${UID}`);
    expect(config.Entrypoint).toEqual(['node', '/app/dist/cli/vifplugd.js']);
    // The base image's CMD ["node"] must not reach the daemon as an argument.
    expect(config.Cmd ?? []).toEqual([]);
    expect(Object.keys(config.Volumes ?? {})).toContain('/run/vifplug');
    expect(healthcheck?.Test.join(' '), 'no HEALTHCHECK: was the image built with --format docker?').toContain('/app/scripts/container/healthcheck.js');
    expect(config.Labels['org.opencontainers.image.title']).toBe('vifplug');
    expect(config.Labels['org.opencontainers.image.revision']).toBe(REVISION);
    expect(config.Labels['org.opencontainers.image.licenses']).toBe('Apache-2.0');

    const base = JSON.parse((await podman.must(['image', 'inspect', BASE_IMAGE])).stdout) as { Size: number }[];
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
    log(`image size ${mb(inspect[0]!.Size)} (stand-in base ${mb(base[0]!.Size)}, vifplug's layers ${mb(inspect[0]!.Size - base[0]!.Size)})`);

    expect(help).toMatch(/^Usage: vifplugd/m);
    // devlink and ip, for the representor provider in the host's network
    // namespace; and no file of the app that is not root's or that anyone may write.
    const script = 'command -v devlink; command -v ip; find /app ! -type l \\( ! -user 0 -o -perm -o+w \\) -print';
    const inside = await podman.must(['run', '--rm', '--no-healthcheck', '--network=none', '--entrypoint', 'sh', image!, '-c', script]);
    expect(inside.stdout.trim().split('\n')).toEqual([expect.stringMatching(/\/devlink$/), expect.stringMatching(/\/ip$/)]);
  });
});

describe('the vifplug-ovn entrypoint, beside the running vifplugd container', () => {
  // A stock OVN chassis on the host (OVS, NB/SB, northd, ovn-controller in a
  // temporary directory) and the agent in a second container of the same
  // image, as the Kubernetes example runs it: uid 0 in group 65532, no
  // capability, the OVS socket directory and vifplugd's socket directory
  // mounted in.
  let sandbox: OvnSandbox | undefined;
  let agentName: string | undefined;
  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ chassis: 'hv1' });
    const name = `vifplug-ovn-container-test-${process.pid}`;
    await podman.must([
      'run', '--detach', '--name', name,
      '--read-only', '--read-only-tmpfs=false', '--cap-drop=ALL', '--security-opt=no-new-privileges', '--network=none',
      '--user', `0:${UID}`,
      '--volume', `${socketDir}:/run/vifplug`,
      '--volume', `${sandbox.dir}:/run/openvswitch`,
      '--entrypoint', 'node',
      image!,
      '/app/dist/cli/vifplug-ovn.js', '--types', 'dummy', '--ovs-db', 'unix:/run/openvswitch/db.sock', '--ovn-sb-db', 'unix:/run/openvswitch/sb.sock',
      '--status-socket', '/run/openvswitch/vifplug-ovn.sock',
    ]);
    agentName = name;
  });
  afterAll(async () => {
    if (agentName !== undefined) await podman.run(['rm', '--force', '--time', '0', agentName]);
    await sandbox?.stop();
  });

  it('plugs the port the Southbound DB requests to the chassis; ovn-controller brings it up', async () => {
    const s = sandbox!;
    await s.nbctl('ls-add', 'sw0', '--', 'lsp-add', 'sw0', 'ct-lsp1', '--', 'lsp-set-options', 'ct-lsp1', `requested-chassis=${s.hostname}`, 'vif-plug-type=dummy');
    const logs = async () => (await podman.run(['logs', agentName!])).stdout;
    await s.waitLportUp('ct-lsp1', 20_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await logs()}`);
    });
    expect(await s.ovsGet('Interface', 'ct-lsp1', 'external_ids')).toContain('vifplug-plugged=dummy');
    const status = await podman.must(['exec', agentName!, 'node', '/app/dist/cli/vifplug-ovn.js', 'status', '--status-socket', '/run/openvswitch/vifplug-ovn.sock']);
    expect(status.stdout).toMatch(/^ct-lsp1\s+dummy\s+plugged\s+ct-lsp1/m);
  });

  it('stops on SIGTERM with exit 0, leaving the port in place', async () => {
    await podman.must(['stop', '--time', '10', agentName!]);
    expect((await podman.must(['inspect', '--format', '{{.State.ExitCode}}', agentName!])).stdout.trim()).toBe('0');
    expect(await sandbox!.bridgePorts()).toContain('ct-lsp1');
  });
});

describe('the running container, from the host through the socket', () => {
  it('answers health SERVING for the daemon and for vifplug.v1.VifPlug', async () => {
    expect(await client.health('')).toBe(ServingStatus.SERVING);
    expect(await client.health('vifplug.v1.VifPlug')).toBe(ServingStatus.SERVING);
  });

  it('plugs a dummy port: Open, PreparePort, FinishPort, DestroyCtx', async () => {
    const instance = await client.open('dummy');
    const port = await client.preparePort({
      instanceId: instance.instanceId,
      opType: OpType.OP_TYPE_CREATE,
      lportName: 'lsp-ct1',
      lportOptions: new Map([['vif-plug-type', 'dummy']]),
    });
    expect(port.plug).toBe(true);
    expect(port.name).toBe('lsp-ct1');
    await client.finishPort(port.ctxId);
    await client.destroyCtx(port.ctxId);
  });

  it('looks up a VF representor in the host /sys mounted read-only', async (ctx) => {
    const providers = await client.listProviders();
    if (!providers.builtinTypes.includes('representor')) {
      log(
        `SKIPPED the representor lookup: this daemon has no representor provider yet ` +
          `(built-in types: ${providers.builtinTypes.join(', ')}); it runs once the provider lands`,
      );
      ctx.skip();
    }
    const instance = await client.open('representor');
    const port = await client.preparePort({
      instanceId: instance.instanceId,
      opType: OpType.OP_TYPE_CREATE,
      lportName: 'lsp-vf2',
      lportOptions: new Map([
        ['vif-plug-type', 'representor'],
        ['vif-plug:representor:pf-mac', host.pfMac],
        ['vif-plug:representor:vf-num', '2'],
      ]),
    });
    expect(port.plug, `declined: ${port.declineReason} ${port.declineMessage}\n${await containerLogs()}`).toBe(true);
    expect(port.name).toBe(host.vfRepresentors.get(2));
    await client.destroyCtx(port.ctxId);

    const listed = await client.listRepresentors('representor');
    expect(listed.representors.map((r) => r.netdev)).toEqual(expect.arrayContaining([...host.vfRepresentors.values()]));
  });

  it('runs the daemon as uid/gid 65532 with no capabilities and no new privileges', async () => {
    const pid = (await podman.must(['inspect', '--format', '{{.State.Pid}}', container!])).stdout.trim();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.split(/\s+/);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('/app/dist/cli/vifplugd.js');
    expect(field('Uid')).toEqual([`${UID}`, `${UID}`, `${UID}`, `${UID}`]);
    expect(field('Gid')).toEqual([`${UID}`, `${UID}`, `${UID}`, `${UID}`]);
    expect(field('CapEff')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
    expect((await podman.must(['exec', container!, 'id', '-u'])).stdout.trim()).toBe(`${UID}`);
  });

  it('writes nothing outside the socket volume', async () => {
    // Apart from what the runtime itself adds: the mount points and the files
    // it bind-mounts into /etc (hosts, hostname, resolv.conf).
    const runtimes = new Set(['/etc', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/host', '/host/sys', '/run', '/run/vifplug', '/run/.containerenv']);
    const diff = await podman.must(['diff', container!]);
    const changes = diff.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !runtimes.has(line.slice(2)));
    expect(changes).toEqual([]);
    expect(readdirSync(socketDir)).toEqual(['vifplug.sock']);
  });

  it("runs the daemon with the DaemonSet's NODE_OPTIONS, which the image's node accepts", async () => {
    // The daemon is PID 1 (exec-form ENTRYPOINT); its V8 heap limit follows --max-old-space-size.
    const environ = await podman.must(['exec', container!, 'cat', '/proc/1/environ']);
    expect(environ.stdout.split('\0')).toContain(`NODE_OPTIONS=${DAEMONSET_ENV['NODE_OPTIONS']}`);
    const oldSpaceMiB = Number(/--max-old-space-size=(\d+)/.exec(DAEMONSET_ENV['NODE_OPTIONS'] ?? '')?.[1]);
    expect(oldSpaceMiB).toBeGreaterThan(0);
    const limit = await podman.must(['exec', container!, 'node', '-p', "require('v8').getHeapStatistics().heap_size_limit"]);
    // heap_size_limit = old space + young generation (a few MiB at these semi-space sizes).
    expect(Number(limit.stdout.trim()) / 2 ** 20).toBeGreaterThanOrEqual(oldSpaceMiB);
    expect(Number(limit.stdout.trim()) / 2 ** 20).toBeLessThan(oldSpaceMiB + 32);
  });

  it("passes the image's HEALTHCHECK", async () => {
    const result = await podman.run(['healthcheck', 'run', container!]);
    if (result.code !== 0) {
      const health = await podman.run(['inspect', '--format', '{{json .State.Health}}', container!]);
      throw new Error(`podman healthcheck run exited with ${result.code}\n${describeOutput(result)}health: ${health.stdout}\n${await containerLogs()}`);
    }
  });

  it('drains on SIGTERM (podman stop), removes its socket and exits 0', async () => {
    const t0 = Date.now();
    await podman.must(['stop', '--time', '20', container!]);
    const stopMs = Date.now() - t0;
    const exit = (await podman.must(['inspect', '--format', '{{.State.ExitCode}}', container!])).stdout.trim();
    const logs = await containerLogs();
    expect(exit, logs).toBe('0');
    expect(logs).toContain('vifplugd stopped');
    // Well inside the timeout: the daemon exited on SIGTERM, it was not killed.
    expect(stopMs, logs).toBeLessThan(15_000);
    expect(existsSync(join(socketDir, 'vifplug.sock'))).toBe(false);
  });
});
