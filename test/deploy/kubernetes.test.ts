/**
 * deploy/kubernetes: the manifests parse, the DaemonSet passes vifplugd only
 * flags it has with values it accepts, its probes ask the socket it serves,
 * its security settings are those documented, and the daemon started with
 * exactly those arguments (paths moved to a temp dir) serves and passes the
 * probe.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseDaemonArgs } from '../../src/cli/daemon-config';
import { BUILTIN_TYPES } from '../../src/providers/builtins';
import { finalStage, imagePathOf, readDockerfile, ROOT } from '../container/dockerfile';
import { buildFakeSysfs } from '../container/fake-sysfs';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { daemonHelpFlags, daemonHelpVariables, flagNames, flagValues, parseYamlDocuments, quantityBytes } from './parse';

const DIR = join(ROOT, 'deploy', 'kubernetes');

/* Loosely typed views of the manifests: the test checks the shape it reads. */
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  securityContext?: Record<string, any>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
}
interface Probe {
  exec?: { command: string[] };
  timeoutSeconds?: number;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: any;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const manifests = new Map(files.map((f) => [f, parseYamlDocuments(readFileSync(join(DIR, f), 'utf8')) as unknown as Manifest[]]));
const resources = [...manifests].filter(([f]) => f !== 'kustomization.yaml').flatMap(([, docs]) => docs);
const daemonSet = resources.find((m) => m.kind === 'DaemonSet')!;
const pod = daemonSet?.spec.template.spec as Record<string, any>;
const daemon = (pod?.containers as Container[] | undefined)?.find((c) => c.name === 'vifplugd');
const dockerfile = finalStage(readDockerfile());
const [imageUid, imageGid] = dockerfile.find((i) => i.keyword === 'USER')!.args.split(':').map(Number);

/** The volume a container mounts at `path`. */
function volumeAt(container: Container, path: string): { mount: { name: string; mountPath: string; readOnly?: boolean }; volume: Record<string, any> } {
  const mount = container.volumeMounts?.find((m) => m.mountPath === path);
  expect(mount, `${container.name} mounts nothing at ${path}`).toBeDefined();
  const volume = (pod.volumes as Record<string, any>[]).find((v) => v.name === mount!.name);
  expect(volume, `no volume named ${mount!.name}`).toBeDefined();
  return { mount: mount!, volume: volume! };
}

/** The unix socket path of a listen spec (unix:///abs or /abs). */
function socketPath(spec: string): string {
  return spec.replace(/^unix:\/\//, '').replace(/^unix:/, '');
}

/** A container setting, falling back to the pod's (as the kubelet resolves them). */
function effective(container: Container, key: string): any {
  return container.securityContext?.[key] ?? pod.securityContext?.[key];
}

describe('deploy/kubernetes', () => {
  it('parses, every resource in the vifplug namespace, and kustomization lists every file', () => {
    expect(files).toEqual(expect.arrayContaining(['daemonset.yaml', 'kustomization.yaml']));
    for (const m of resources) {
      expect(m.apiVersion, JSON.stringify(m.metadata)).toBeTruthy();
      expect(m.metadata.name).toBeTruthy();
      if (m.kind !== 'Namespace') expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('vifplug');
    }
    const kustomization = manifests.get('kustomization.yaml')![0] as unknown as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('runs vifplugd on the host network, with a service account that has no API token', () => {
    expect(daemonSet).toBeDefined();
    expect(daemon, 'a container named vifplugd').toBeDefined();
    expect(pod.hostNetwork).toBe(true);
    const account = resources.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === pod.serviceAccountName);
    expect(account, `ServiceAccount ${pod.serviceAccountName}`).toBeDefined();
    expect(account!.automountServiceAccountToken).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('passes only flags vifplugd has, with values its parser accepts', () => {
    const args = daemon!.args ?? [];
    expect(daemon!.command, 'the image ENTRYPOINT is vifplugd; flags go in args').toBeUndefined();
    const known = daemonHelpFlags();
    for (const flag of flagNames(args)) expect(known.has(flag), `${flag} is not in vifplugd --help`).toBe(true);
    const env = Object.fromEntries((daemon!.env ?? []).map((e) => [e.name, e.value ?? '']));
    const variables = daemonHelpVariables();
    for (const name of Object.keys(env).filter((n) => n.startsWith('VIFPLUG_'))) expect(variables.has(name), name).toBe(true);
    const parsed = parseDaemonArgs(args, env, BUILTIN_TYPES);
    expect(parsed.kind).toBe('run');
  });

  it("reads the host's /sys, mounted read-only, through --sysfs-root", () => {
    const [root] = flagValues(daemon!.args ?? [], '--sysfs-root');
    expect(root, '--sysfs-root').toBeDefined();
    const { mount, volume } = volumeAt(daemon!, root!);
    expect(mount.readOnly).toBe(true);
    expect(volume.hostPath?.path).toBe('/sys');
  });

  it('serves on a socket in a hostPath directory, which the probes ask through the probe script the image ships', () => {
    const listen = flagValues(daemon!.args ?? [], '--listen');
    const sockets = listen.filter((l) => l.startsWith('unix:') || l.startsWith('/'));
    expect(sockets).toHaveLength(1);
    const { volume } = volumeAt(daemon!, dirname(socketPath(sockets[0]!)));
    expect(volume.hostPath?.path).toBe('/run/vifplug');
    const script = imagePathOf(dockerfile, 'scripts/container/healthcheck.js');
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const probe = daemon![kind];
      expect(probe?.exec?.command, kind).toBeDefined();
      const command = probe!.exec!.command;
      expect(command.slice(0, 2), kind).toEqual(['node', script]);
      // The address the daemon listens on, not a default that might differ.
      expect(command.at(-1), kind).toBe(sockets[0]);
      // The probe gives up before the kubelet does, so that its reason is logged.
      const [timeout] = flagValues(command, '--timeout');
      expect(Number(timeout), kind).toBeLessThan(probe!.timeoutSeconds ?? 1);
    }
  });

  it('runs non-root, read-only, without capabilities or privilege escalation, under RuntimeDefault seccomp', () => {
    expect(effective(daemon!, 'runAsNonRoot')).toBe(true);
    expect(effective(daemon!, 'runAsUser')).toBe(imageUid);
    expect(effective(daemon!, 'runAsGroup')).toBe(imageGid);
    expect(daemon!.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(daemon!.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(daemon!.securityContext?.privileged ?? false).toBe(false);
    expect(daemon!.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(daemon!.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(effective(daemon!, 'seccompProfile')?.type).toBe('RuntimeDefault');
  });

  it('prepares the socket directory for the daemon user with an init container that has only CHOWN and FOWNER', () => {
    const init = (pod.initContainers as Container[]).find((c) => c.volumeMounts?.some((m) => m.mountPath === '/run/vifplug'));
    expect(init).toBeDefined();
    expect(init!.image).toBe(daemon!.image);
    expect(init!.command).toEqual(['install', '-d', '-o', String(imageUid), '-g', String(imageGid), '-m', '0750', '/run/vifplug']);
    expect(init!.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN', 'FOWNER'] });
    expect(init!.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(init!.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('requests resources, caps memory, and lets the shutdown grace run out before SIGKILL', () => {
    for (const c of [daemon!, ...((pod.initContainers as Container[]) ?? [])]) {
      expect(c.resources?.requests?.cpu, c.name).toBeDefined();
      expect(c.resources?.requests?.memory, c.name).toBeDefined();
      expect(c.resources?.limits?.memory, c.name).toBeDefined();
    }
    const parsed = parseDaemonArgs(daemon!.args ?? [], {}, BUILTIN_TYPES);
    if (parsed.kind !== 'run') throw new Error('not a run command');
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(parsed.config.shutdownGraceMs);
    // V8's heap is sized under the limit (bench suite refresh-memory measures the container against it).
    const nodeOptions = daemon!.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    expect(oldSpace * 2 ** 20).toBeLessThan(quantityBytes(daemon!.resources!.limits!.memory!));
  });

  it('uses the image of this version', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(daemon!.image.split(':').at(-1)).toBe(version);
  });
});

describe('the DaemonSet arguments, run', () => {
  let work: string | undefined;
  let running: Daemon | undefined;
  afterAll(async () => {
    await running?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('start vifplugd, which the readiness probe command finds serving', async () => {
    // Each mount path of the container moves to a temp dir, the host /sys to a fake one.
    work = mkdtempSync(join(tmpdir(), 'vifplug-k8s-'));
    const moves = (daemon!.volumeMounts ?? []).map((m) => {
      const to = join(work!, m.name);
      if (m.mountPath === flagValues(daemon!.args ?? [], '--sysfs-root')[0]) buildFakeSysfs(to);
      else mkdirSync(to, { recursive: true });
      return [m.mountPath, to] as const;
    });
    const move = (arg: string) => moves.reduce((a, [from, to]) => a.split(from).join(to), arg);
    // The container's environment (NODE_OPTIONS included: node refuses options it does not allow there).
    const env = Object.fromEntries((daemon!.env ?? []).map((e) => [e.name, e.value ?? '']));
    running = await spawnDaemon((daemon!.args ?? []).map(move), env);

    const command = daemon!.readinessProbe!.exec!.command.map(move);
    expect(command[1]).toBe('/app/scripts/container/healthcheck.js');
    command[1] = join(ROOT, 'scripts', 'container', 'healthcheck.js');
    const probe = spawn(process.execPath, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    probe.stdout.on('data', (c: Buffer) => (output += c.toString()));
    probe.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => probe.on('close', resolve));
    expect(code, output).toBe(0);
    expect(await running.stop()).toBe(0);
  });
});
