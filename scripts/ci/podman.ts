/**
 * podman as the CI stages and the container test use it on our machines:
 * installing it, the configuration that works here, local base images
 * bootstrapped from Debian's mirror (no image registry is reachable), and
 * commands whose failures show podman's own output.
 * shared/design/containers.md records why each step is as it is.
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CommandError, must, run, type Result, type RunOptions } from './process';

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs podman, runc (podman's default crun cannot start containers here:
 * containers.md) and mmdebstrap (for base images) with apt-get when any is
 * missing; only root on Debian can, anyone else is told what to install.
 */
export async function ensureTools(log: (line: string) => void): Promise<void> {
  const missing = ['podman', 'runc', 'mmdebstrap'].filter((command) => !onPath(command));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(
      `the container stages need ${missing.join(', ')}, and install them with apt-get only as root on Debian; ` +
        `install them yourself (apt-get install ${missing.join(' ')}) or run as root`,
    );
  }
  log(`installing ${missing.join(', ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await must('apt-get', ['update', '-q'], { env, hint: 'apt-get update failed: is a Debian mirror reachable?', timeoutMs: 600_000 });
  await must('apt-get', ['install', '-y', '-q', ...missing], { env, timeoutMs: 900_000 });
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
 * A containers.conf used through CONTAINERS_CONF so that nothing in /etc
 * changes: runc as the runtime and ulimits within the hard limits
 * (containers.md).
 */
export function writeContainersConf(dir: string): string {
  const limits = hardLimits();
  const nofile = Math.min(limits.nofile, 65536);
  const nproc = Math.min(limits.nproc, 32768);
  const path = join(dir, 'containers.conf');
  writeFileSync(
    path,
    ['[containers]', `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`, '[engine]', 'runtime = "runc"', ''].join('\n'),
  );
  return path;
}

/** The Debian archive this machine's apt uses, and its security archive when apt uses one. */
export interface DebianSources {
  readonly mirror: string;
  readonly security?: string;
}

/** Reads the archives from /etc/apt/sources.list and sources.list.d (one-line and deb822 formats). */
export function debianSources(): DebianSources {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const name of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', name));
    }
  }
  const uris: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      // deb822: paragraphs of "Key: value" lines.
      for (const paragraph of text.split(/\n\s*\n/)) {
        const field = (key: string) => new RegExp(`^${key}:\\s*(.+)$`, 'mi').exec(paragraph)?.[1]?.trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(paragraph)) continue;
        uris.push(...field('URIs'));
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
        if (m) uris.push(m[1]!);
      }
    }
  }
  const web = uris.filter((uri) => /^https?:\/\//.test(uri));
  const mirror = web.find((uri) => /debian\/?$/.test(uri) && !uri.includes('security'));
  if (mirror === undefined) {
    throw new Error(
      'found no Debian mirror (a deb line or deb822 URIs ending in /debian) in /etc/apt/sources.list or /etc/apt/sources.list.d; ' +
        'base images are bootstrapped from the mirror apt uses here',
    );
  }
  return { mirror, security: web.find((uri) => /debian-security\/?$/.test(uri)) };
}

/** The lines of a sources.list for Debian bookworm from these archives: what a fresh installation has. */
export function bookwormSourceLines(sources: DebianSources): string[] {
  return [
    `deb ${sources.mirror} bookworm main`,
    `deb ${sources.mirror} bookworm-updates main`,
    ...(sources.security === undefined ? [] : [`deb ${sources.security} bookworm-security main`]),
  ];
}

/**
 * The CA bundle npm needs inside containers on machines whose registry
 * traffic passes a TLS-intercepting proxy (containers.md). Only our build
 * machines need it; nothing of it goes into what users run.
 */
export function hostCaBundle(): string | undefined {
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/** podman with our containers.conf. */
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

  /** The value of a label of a local image, or undefined when there is no such image. */
  async label(image: string, label: string): Promise<string | undefined> {
    const result = await this.run(['image', 'inspect', '--format', `{{index .Labels "${label}"}}`, image]);
    return result.code === 0 ? result.stdout.trim() : undefined;
  }

  /** Whether a local image of that name exists. */
  async exists(image: string): Promise<boolean> {
    return (await this.run(['image', 'exists', image])).code === 0;
  }

  /** `command args | podman import importArgs`, throwing with the output of both on failure. */
  importFrom(command: string, args: readonly string[], importArgs: readonly string[], timeoutMs: number): Promise<Result> {
    const producer = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let producerErr = '';
    producer.stderr.on('data', (c: Buffer) => (producerErr += c.toString()));
    const producerDone = new Promise<number | null>((resolve, reject) => {
      producer.on('error', reject);
      producer.on('close', resolve);
    });
    producerDone.catch(() => undefined); // reported below, once podman import ends
    return new Promise((resolve, reject) => {
      const podman = spawn('podman', ['import', ...importArgs], { env: { ...process.env, ...this.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      producer.stdout.pipe(podman.stdin);
      let stdout = '';
      let stderr = '';
      podman.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      podman.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        stderr += `\n[killed: still running after its budget of ${Math.round(timeoutMs / 1000)} s]`;
        producer.kill('SIGKILL');
        podman.kill('SIGKILL');
      }, timeoutMs);
      podman.on('error', reject);
      podman.on('close', (code) => {
        producerDone.then((producerCode) => {
          clearTimeout(timer);
          const result = { code: producerCode === 0 ? code : producerCode, stdout, stderr: `${producerErr}${stderr}` };
          if (result.code !== 0) reject(new CommandError(`${command} ${args.join(' ')} | podman import ${importArgs.join(' ')}`, result));
          else resolve(result);
        }, reject);
      });
    });
  }
}
