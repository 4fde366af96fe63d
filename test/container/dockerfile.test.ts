/**
 * What can be checked of the Dockerfile without building it (the container
 * test, `npm run test:container`, builds and runs it): that it agrees with
 * the daemon, the probe script and .dockerignore, and uses nothing a classic
 * Docker engine would refuse.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseDaemonArgs } from '../../src/cli/daemon-config';
import { BUILTIN_TYPES } from '../../src/providers/builtins';
import { daemonHelpVariables } from '../deploy/parse';
import { copiesOf, envOf, execForm, finalStage, imagePathOf, readDockerfile, ROOT } from './dockerfile';

const all = readDockerfile();
const runtime = finalStage(all);
const one = (keyword: string) => {
  const found = runtime.filter((i) => i.keyword === keyword);
  expect(found, `the final stage has one ${keyword}`).toHaveLength(1);
  return found[0]!;
};

describe('the Dockerfile', () => {
  it('takes its base from ARG NODE_IMAGE, node:24-bookworm-slim by default, in every stage', () => {
    const arg = all.find((i) => i.keyword === 'ARG' && i.stage === -1);
    expect(arg?.args).toBe('NODE_IMAGE=node:24-bookworm-slim');
    const froms = all.filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from.args, `line ${from.line}`).toMatch(/^\$\{NODE_IMAGE\}(\s+AS\s+\S+)?$/i);
  });

  it('uses only instructions and flags that every engine (Docker with or without BuildKit, podman, buildah) accepts', () => {
    const classic = new Set(['FROM', 'ARG', 'RUN', 'COPY', 'WORKDIR', 'ENV', 'USER', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD', 'LABEL', 'EXPOSE']);
    for (const ins of all) {
      expect(classic.has(ins.keyword), `line ${ins.line}: ${ins.keyword}`).toBe(true);
      // RUN --mount, COPY --chmod/--link and heredocs need BuildKit.
      if (ins.keyword === 'RUN') expect(ins.args, `line ${ins.line}`).not.toMatch(/^--|<</);
      if (ins.keyword === 'COPY') for (const flag of ins.args.match(/--[a-z]+/g) ?? []) expect(['--from', '--chown'], `line ${ins.line}`).toContain(flag);
    }
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).not.toMatch(/^#\s*syntax=/m);
  });

  it('runs as a numeric, non-root user and group', () => {
    const [uid, gid] = one('USER').args.split(':');
    expect(uid).toMatch(/^[1-9][0-9]*$/);
    expect(gid).toMatch(/^[1-9][0-9]*$/);
  });

  it('has vifplugd as ENTRYPOINT, the compiled daemon that npm run build emits, and resets the base CMD', () => {
    const entrypoint = execForm(one('ENTRYPOINT').args);
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toBe('/app/dist/cli/vifplugd.js');
    // The build stage's dist/ is copied to /app/dist: the same file in this tree.
    const distCopy = copiesOf(runtime).find((c) => c.from !== undefined && c.sources.some((s) => s.endsWith('/dist')));
    expect(distCopy?.dest).toBe('./dist');
    expect(existsSync(join(ROOT, 'dist', 'cli', 'vifplugd.js'))).toBe(true);
    expect(execForm(one('CMD').args)).toEqual([]);
  });

  it('sets only VIFPLUG_* variables that vifplugd reads, with values it accepts', () => {
    const env = envOf(runtime);
    const vifplug = [...env].filter(([k]) => k.startsWith('VIFPLUG_'));
    expect(vifplug.length).toBeGreaterThan(0);
    const known = daemonHelpVariables();
    for (const [name] of vifplug) expect(known.has(name), `${name} is not in vifplugd --help`).toBe(true);
    const parsed = parseDaemonArgs([], Object.fromEntries(vifplug), BUILTIN_TYPES);
    expect(parsed.kind).toBe('run');
  });

  it('health-checks with the probe script it copies, in exec form', () => {
    const healthcheck = one('HEALTHCHECK').args;
    const cmd = /\bCMD\s+(\[.*\])$/.exec(healthcheck);
    expect(cmd, 'HEALTHCHECK ... CMD ["node", ...]').not.toBeNull();
    const argv = execForm(cmd![1]!);
    expect(argv[0]).toBe('node');
    expect(argv[1]).toBe(imagePathOf(runtime, 'scripts/container/healthcheck.js'));
    expect(existsSync(join(ROOT, 'scripts', 'container', 'healthcheck.js'))).toBe(true);
  });

  it('declares the socket directory a volume and labels the image', () => {
    expect(execForm(one('VOLUME').args)).toEqual(['/run/vifplug']);
    const labels = runtime.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'base.name']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('installs iproute2 (devlink, ip) in the runtime stage', () => {
    expect(runtime.some((i) => i.keyword === 'RUN' && /apt-get install[^&]*\biproute2\b/.test(i.args))).toBe(true);
  });

  it('copies from the build context only what .dockerignore lets through', () => {
    const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    // The allow-list form: exclude everything, then re-include.
    expect(patterns[0]).toBe('*');
    const allowed = patterns.slice(1).map((p) => {
      expect(p.startsWith('!'), `.dockerignore: ${p}`).toBe(true);
      return p.slice(1).replace(/\/$/, '');
    });
    const sent = (path: string) => allowed.some((a) => path === a || path.startsWith(`${a}/`));
    for (const copy of copiesOf(all).filter((c) => c.from === undefined)) {
      for (const source of copy.sources) {
        expect(sent(source.replace(/^\.\//, '')), `Dockerfile line ${copy.line} copies ${source}, which .dockerignore leaves out`).toBe(true);
        expect(existsSync(join(ROOT, source)), `Dockerfile line ${copy.line}: ${source} does not exist`).toBe(true);
      }
    }
  });
});
