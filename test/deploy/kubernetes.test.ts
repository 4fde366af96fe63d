/**
 * deploy/kubernetes: every manifest is valid against the Kubernetes API's
 * schema (schema.ts: kubernetes-models, no cluster); the vifplugd DaemonSet
 * passes vifplugd only flags it has with values it accepts, its probes ask the
 * socket it serves, its security settings are those documented, it mounts
 * nothing a node may lack, and the daemon started with exactly those
 * arguments (paths moved to a temp dir) serves and passes the probe. The
 * vifplug-ovn DaemonSet: an OVS mount that cannot keep its pod from starting,
 * probes on the agent's status socket that pass on a node without OVS (its
 * arguments, run), and the documented patch for an OVS that runs as a user of
 * its own.
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
import { blocksCheckedBy, where } from '../helpers/docs';
import { parseAgentArgs } from '../../src/cli/vifplug-ovn';
import { daemonHelpFlags, daemonHelpVariables, flagNames, flagValues, parseYamlDocuments, quantityBytes, type Yaml } from './parse';
import { schemaErrors, typeErrors } from './schema';

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
const daemonSet = resources.find((m) => m.kind === 'DaemonSet' && m.metadata.name === 'vifplugd')!;
const pod = daemonSet?.spec.template.spec as Record<string, any>;
const daemon = (pod?.containers as Container[] | undefined)?.find((c) => c.name === 'vifplugd');
const agentSet = resources.find((m) => m.kind === 'DaemonSet' && m.metadata.name === 'vifplug-ovn')!;
const agentPod = agentSet?.spec.template.spec as Record<string, any>;
const agent = (agentPod?.containers as Container[] | undefined)?.find((c) => c.name === 'vifplug-ovn');
const dockerfile = finalStage(readDockerfile());
const [imageUid, imageGid] = dockerfile.find((i) => i.keyword === 'USER')!.args.split(':').map(Number);

/** The volume a container (of vifplugd's pod unless told) mounts at `path`. */
function volumeAt(
  container: Container,
  path: string,
  inPod: Record<string, any> = pod,
): { mount: { name: string; mountPath: string; readOnly?: boolean }; volume: Record<string, any> } {
  const mount = container.volumeMounts?.find((m) => m.mountPath === path);
  expect(mount, `${container.name} mounts nothing at ${path}`).toBeDefined();
  const volume = (inPod.volumes as Record<string, any>[]).find((v) => v.name === mount!.name);
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
    expect(files).toEqual(expect.arrayContaining(['daemonset.yaml', 'vifplug-ovn.yaml', 'kustomization.yaml']));
    for (const m of resources) {
      expect(m.apiVersion, JSON.stringify(m.metadata)).toBeTruthy();
      expect(m.metadata.name).toBeTruthy();
      if (m.kind !== 'Namespace') expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('vifplug');
    }
    const kustomization = manifests.get('kustomization.yaml')![0] as unknown as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it("is valid against the Kubernetes API's schema: types, enums and required fields, and no field the API lacks", () => {
    expect(resources.length).toBeGreaterThanOrEqual(5);
    for (const m of resources) expect(schemaErrors(m as unknown as Yaml), `${m.kind}/${m.metadata.name}`).toEqual([]);
    expect(typeErrors(resources as unknown as Yaml[], resources.map((m) => `${m.kind}/${m.metadata.name}`))).toEqual([]);
  });

  it('has a schema check that finds a misspelt field, a value of the wrong type and an unknown hostPath type', () => {
    const broken = JSON.parse(JSON.stringify(daemonSet)) as Manifest;
    broken.spec.template.spec.securityContext.supplementalGroup = [65532];
    broken.spec.template.spec.containers[0].readinessProbe.exec.command = 'node healthcheck.js';
    broken.spec.template.spec.volumes[0].hostPath.type = 'Directorry';
    const schema = schemaErrors(broken as unknown as Yaml);
    expect(schema).toEqual(expect.arrayContaining([expect.stringContaining('exec/command must be array'), expect.stringContaining('hostPath/type')]));
    const types = typeErrors([broken as unknown as Yaml], ['broken']);
    expect(types).toEqual(expect.arrayContaining([expect.stringMatching(/supplementalGroup.*does not exist in type/), expect.stringMatching(/"command".*not assignable/)]));
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

  it("mounts nothing a node may lack, OVS's directory least of all: a node without OVS runs vifplugd", () => {
    const hostPaths = (pod.volumes as Record<string, any>[]).filter((v) => v.hostPath !== undefined).map((v) => v.hostPath as { path: string; type?: string });
    expect(hostPaths.map((h) => h.path).sort()).toEqual(['/run/vifplug', '/sys']);
    // /sys is on every Linux node; anything else is created if missing.
    for (const h of hostPaths) if (h.path !== '/sys') expect(h.type, h.path).toBe('DirectoryOrCreate');
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
    expect(agent!.image).toBe(daemon!.image);
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

describe('deploy/kubernetes: the vifplug-ovn DaemonSet', () => {
  const statusCommand = () => agent!.readinessProbe!.exec!.command;

  it('runs the agent in a pod of its own, on the host network, with a service account that has no API token', () => {
    expect(agent, 'a DaemonSet vifplug-ovn with a container named vifplug-ovn').toBeDefined();
    expect(agentPod.containers).toHaveLength(1);
    expect(agentPod.hostNetwork).toBe(true);
    const account = resources.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === agentPod.serviceAccountName);
    expect(account, `ServiceAccount ${agentPod.serviceAccountName}`).toBeDefined();
    expect(account!.automountServiceAccountToken).toBe(false);
    expect(agentPod.automountServiceAccountToken).toBe(false);
  });

  it("mounts OVS's runtime directory so that a node without OVS cannot keep the pod from starting", () => {
    const parsed = parseAgentArgs(agent!.args ?? [], {});
    if (parsed.kind !== 'run') throw new Error('not a run command');
    const ovsSocket = parsed.config.ovsDb.replace(/^unix:/, '');
    const { volume } = volumeAt(agent!, dirname(ovsSocket), agentPod);
    expect(volume.hostPath).toEqual({ path: '/run/openvswitch', type: 'DirectoryOrCreate' });
    // vifplugd's socket directory: the same host directory, created by whichever pod comes first.
    const socket = parsed.config.connection.socket!;
    expect(volumeAt(agent!, dirname(socket), agentPod).volume.hostPath).toEqual(volumeAt(daemon!, '/run/vifplug').volume.hostPath);
  });

  it("probes the agent's status socket with `vifplug-ovn status`, giving up after the kubelet's timeout", () => {
    const parsed = parseAgentArgs(agent!.args ?? [], {});
    if (parsed.kind !== 'run') throw new Error('not a run command');
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const command = agent![kind]?.exec?.command;
      expect(command, kind).toEqual([...agent!.command!, 'status', '--status-socket', parsed.config.statusSocket]);
      // `vifplug-ovn status` waits 5 s for an answer (fetchStatus); the kubelet must wait longer to log its message.
      expect(agent![kind]!.timeoutSeconds, kind).toBeGreaterThan(5);
    }
  });

  it('runs as uid 0 in group 65532 with no capability at all', () => {
    expect(agent!.securityContext).toMatchObject({
      runAsUser: 0,
      runAsGroup: imageGid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(agent!.securityContext?.capabilities?.add).toBeUndefined();
    expect(effective(agent!, 'seccompProfile')?.type ?? agentPod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
  });

  it("takes the documented patch for an OVS that runs as a user of its own, and stays valid", () => {
    const blocks = blocksCheckedBy('test/deploy/kubernetes.test.ts');
    expect(blocks.map(where)).toHaveLength(1);
    const kustomization = parseYamlDocuments(blocks[0]!.body)[0] as unknown as {
      kind: string;
      patches: { target: { kind: string; name: string }; patch: string }[];
    };
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.patches).toHaveLength(1);
    const { target, patch } = kustomization.patches[0]!;
    const original = resources.find((m) => m.kind === target.kind && m.metadata.name === target.name);
    expect(original, `${target.kind}/${target.name}`).toBeDefined();
    const patched = applyJsonPatch(original!, parseYamlDocuments(patch)[0] as unknown as JsonPatchOp[]);
    const container = (patched.spec.template.spec.containers as Container[]).find((c) => c.name === 'vifplug-ovn')!;
    expect(container.securityContext?.runAsUser).not.toBe(0);
    expect(container.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext?.runAsGroup).toBe(imageGid);
    expect(schemaErrors(patched as unknown as Yaml)).toEqual([]);
    expect(typeErrors([patched as unknown as Yaml], ['patched'])).toEqual([]);
  });
});

describe('the vifplug-ovn DaemonSet arguments, run on a node without OVS', () => {
  const AGENT_JS = join(ROOT, 'dist', 'cli', 'vifplug-ovn.js');
  let work: string | undefined;
  let running: Daemon | undefined;
  afterAll(async () => {
    await running?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** The probe's command as the kubelet runs it in the container, with this tree's agent for the image's. */
  async function probe(move: (arg: string) => string): Promise<{ code: number | null; output: string }> {
    const command = agent!.readinessProbe!.exec!.command.map(move);
    expect(command.slice(0, 2)).toEqual(['node', '/app/dist/cli/vifplug-ovn.js']);
    const child = spawn(process.execPath, [AGENT_JS, ...command.slice(2)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, output };
  }

  it('start the agent, which the probes find answering while it waits for OVS, and not once it stopped', async () => {
    // Each mount path moves to an empty temp dir: no vifplugd, no OVS.
    work = mkdtempSync(join(tmpdir(), 'vifplug-k8s-agent-'));
    const moves = (agent!.volumeMounts ?? []).map((m) => {
      const to = join(work!, m.name);
      mkdirSync(to, { recursive: true });
      return [m.mountPath, to] as const;
    });
    const move = (arg: string) => moves.reduce((a, [from, to]) => a.split(from).join(to), arg);
    running = await spawnDaemon((agent!.args ?? []).map(move), {}, { script: AGENT_JS, waitForServing: false });

    const deadline = Date.now() + 20_000;
    let last = await probe(move);
    while (last.code !== 0 && Date.now() < deadline && running.proc.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
      last = await probe(move);
    }
    expect(last.code, `${last.output}\n${running.stderr()}${JSON.stringify(running.logs)}`).toBe(0);
    expect(last.output).toMatch(/OVS_UNREACHABLE/);

    expect(await running.stop()).toBe(0);
    const after = await probe(move);
    expect(after.code, after.output).not.toBe(0);
  });
});

interface JsonPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/** RFC 6902 `add` and `replace` (what kustomize's patches apply), on a copy. */
function applyJsonPatch(doc: Manifest, ops: readonly JsonPatchOp[]): Manifest {
  const copy = JSON.parse(JSON.stringify(doc)) as Manifest;
  for (const { op, path, value } of ops) {
    if (op !== 'add' && op !== 'replace') throw new Error(`unsupported patch op ${String(op)}`);
    const keys = path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: any = copy;
    for (const key of keys.slice(0, -1)) {
      node = node[Array.isArray(node) ? Number(key) : key];
      if (node === undefined) throw new Error(`${path}: no ${key}`);
    }
    const last = keys.at(-1)!;
    if (op === 'replace' && !(last in node)) throw new Error(`${path}: nothing to replace`);
    node[Array.isArray(node) ? Number(last) : last] = value;
  }
  return copy;
}
