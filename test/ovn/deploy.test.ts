/**
 * The agent's deployment examples: the vifplug-ovn DaemonSet's container and
 * deploy/systemd/vifplug-ovn.service pass only flags the agent has, with
 * values it accepts, and reach vifplugd and OVS where those put their sockets.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseAgentArgs } from '../../src/cli/vifplug-ovn';
import { ROOT } from '../container/dockerfile';
import { parseUnit, parseYamlDocuments, splitCommandLine, unitValue, type Yaml } from '../deploy/parse';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The pod of the DaemonSet in deploy/kubernetes/<file>. */
function podOf(file: string): Obj {
  const docs = parseYamlDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes', file), 'utf8')) as Obj[];
  return docs.find((d: Yaml) => (d as Obj).kind === 'DaemonSet')!.spec.template.spec as Obj;
}
const agentPod = podOf('vifplug-ovn.yaml');
const daemonPod = podOf('daemonset.yaml');
const agent = (agentPod.containers as Obj[]).find((c) => c.name === 'vifplug-ovn')!;
const daemon = (daemonPod.containers as Obj[]).find((c) => c.name === 'vifplugd')!;

function hostPathOf(pod: Obj, container: Obj, mountPath: string): string | undefined {
  const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === mountPath);
  return (pod.volumes as Obj[]).find((v) => v.name === mount?.name)?.hostPath?.path;
}

describe('deploy/kubernetes: the vifplug-ovn container', () => {
  it("runs the agent from the daemon's image with flags it accepts", () => {
    expect(agent.image).toBe(daemon.image);
    expect(agent.command).toEqual(['node', '/app/dist/cli/vifplug-ovn.js']);
    const parsed = parseAgentArgs(agent.args, {});
    expect(parsed.kind).toBe('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.config.types).toEqual(new Map([['vifplug-representor', 'representor']]));
  });

  it("reaches vifplugd's socket and the node's OVS database, without any capability", () => {
    const parsed = parseAgentArgs(agent.args, {});
    if (parsed.kind !== 'run') throw new Error('not a run command');
    const socket = parsed.config.connection.socket!;
    expect(hostPathOf(agentPod, agent, socket.slice(0, socket.lastIndexOf('/')))).toBe(hostPathOf(daemonPod, daemon, '/run/vifplug'));
    expect(hostPathOf(agentPod, agent, '/run/openvswitch')).toBe('/run/openvswitch');
    expect(parsed.config.ovsDb).toBe('unix:/run/openvswitch/db.sock');
    expect(agent.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsGroup: 65532 });
    expect(agent.securityContext.capabilities.add).toBeUndefined();
    const status = parsed.config.statusSocket;
    expect(hostPathOf(agentPod, agent, status.slice(0, status.lastIndexOf('/')))).toBe('/run/vifplug-ovn');
  });
});

describe('deploy/systemd/vifplug-ovn.service', () => {
  const unit = parseUnit(readFileSync(join(ROOT, 'deploy', 'systemd', 'vifplug-ovn.service'), 'utf8'));
  const service = (key: string) => unitValue(unit, 'Service', key);
  const execStart = splitCommandLine(service('ExecStart') ?? '');

  it('starts the vifplug-ovn that npm installs (by name, from systemd\'s search path), with flags it accepts, its status socket in its RuntimeDirectory', () => {
    expect(execStart[0]).toBe('vifplug-ovn');
    const parsed = parseAgentArgs(execStart.slice(1), {});
    if (parsed.kind !== 'run') throw new Error('not a run command');
    expect(parsed.config.statusSocket).toBe(`/run/${service('RuntimeDirectory')}/vifplug-ovn.sock`);
    expect(parsed.config.connection.socket).toBe('/run/vifplug/vifplug.sock');
  });

  it("comes after vifplugd, is not restarted on a bad flag, has no capability, and reaches vifplugd's socket through its group", () => {
    expect(unitValue(unit, 'Unit', 'After')).toContain('vifplugd.service');
    expect(service('SupplementaryGroups')?.split(/\s+/)).toContain('vifplug');
    expect(service('RestartPreventExitStatus')).toBe('2');
    expect(service('CapabilityBoundingSet')).toBe('');
    expect(service('NoNewPrivileges')).toBe('yes');
  });
});
