/**
 * The grpcurl stand-in (test/helpers/grpcurl.ts) against real grpcurl: every
 * command of the captured sessions in test/fixtures/grpcurl/real-output.md,
 * run through the stand-in against a daemon started here, must print those
 * bytes and exit with that status. Then what the docs say of the versions'
 * address forms, which the captures do not cover.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { VifplugClient } from '../../src/client/client';
import { OpType } from '../../src/gen/vifplug/v1/vifplug';
import { spawnDaemon, type Daemon } from '../helpers/daemon';
import { GRPCURL_VERSIONS, grpcurl, type GrpcurlVersion } from '../helpers/grpcurl';
import { tempDir } from '../helpers/server';

const CAPTURE = readFileSync(join(__dirname, '..', 'fixtures', 'grpcurl', 'real-output.md'), 'utf8');

interface Captured {
  readonly version: GrpcurlVersion;
  readonly args: string[];
  /** Exactly what grpcurl wrote (stdout then stderr), with $S and CTX as placeholders. */
  readonly output: string;
  readonly exit: number;
}

/** The capture's commands: `$ grpcurl ARGS  (exit code after the block)`, a fenced block (its body plus the transcript's extra newline), `exit N`. */
function captured(): Captured[] {
  const out: Captured[] = [];
  let version: GrpcurlVersion | undefined;
  const lines = CAPTURE.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## grpcurl (\S+)/.exec(lines[i]!);
    if (heading) version = heading[1] as GrpcurlVersion;
    const command = /^\$ grpcurl (.*?)\s+\(exit code after the block\)$/.exec(lines[i]!);
    if (!command) continue;
    expect(lines[++i]).toBe('```');
    const body: string[] = [];
    while (lines[++i] !== '```') body.push(lines[i]!);
    const exit = /^exit (\d+)$/.exec(lines[++i]!);
    expect(exit, `an exit status after the block of ${command[1]}`).not.toBeNull();
    expect(version).toBeDefined();
    out.push({ version: version!, args: command[1]!.split(/\s+/), output: body.join('\n'), exit: Number(exit![1]) });
  }
  return out;
}

const dir = tempDir('grpcurl-');
const socket = join(dir.path, 'vifplug.sock');
let daemon: Daemon;
let client: VifplugClient;
let instanceId: string;

beforeAll(async () => {
  daemon = await spawnDaemon(['--listen', `unix://${socket}`, '--providers', 'dummy']);
  client = new VifplugClient(`unix://${socket}`);
  instanceId = (await client.open('dummy')).instanceId;
});
afterAll(async () => {
  client?.close();
  await daemon?.stop();
  dir.remove();
});

/** A ctx to call FinishPort on: live for a call that succeeds, already destroyed for one that fails. */
async function ctx(live: boolean): Promise<string> {
  const port = await client.preparePort({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName: 'lsp1', lportOptions: new Map([['vif-plug-type', 'dummy']]) });
  if (!live) await client.destroyCtx(port.ctxId);
  return port.ctxId;
}

const runs = captured();

it('reads the capture: each version, each command', () => {
  expect([...new Set(runs.map((r) => r.version))]).toEqual(['1.9.3', '1.8.7']);
  expect(runs.length).toBe(8);
});

describe.each(runs.map((r) => [`grpcurl ${r.version} ${r.args.join(' ')} (exit ${r.exit})`, r] as const))('%s', (_name, run) => {
  it('prints what the real grpcurl printed, byte for byte, and exits as it did', async () => {
    // CTX stands for the ctx id (CTX_NOT_FOUND is a reason).
    const placeholder = /CTX(?!_)/g;
    const id = run.args.some((a) => /CTX(?!_)/.test(a)) ? await ctx(run.exit === 0) : 'CTX';
    const args = run.args.map((a) => a.replaceAll('$S', socket).replace(placeholder, id));
    const result = await grpcurl(args, { version: run.version });
    expect(result.stdout + result.stderr).toBe(run.output.replace(placeholder, id));
    expect(result.code).toBe(run.exit);
  });
});

describe('dialing a unix socket, version by version', () => {
  const list = (version: GrpcurlVersion, ...address: string[]) => grpcurl(['-plaintext', ...address, 'list'], { version });
  const services = 'grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\nvifplug.v1.VifPlug\n';

  it('1.8.x: -unix sends the path as :authority, which the daemon refuses; -authority localhost works; unix:// is no address', async () => {
    const bare = await list('1.8.7', '-unix', socket);
    expect(bare).toEqual({ stdout: '', stderr: 'Failed to list services: rpc error: code = Internal desc = stream terminated by RST_STREAM with error code: PROTOCOL_ERROR\n', code: 1 });
    expect(await list('1.8.7', '-unix', '-authority', 'localhost', socket)).toEqual({ stdout: services, stderr: '', code: 0 });
    expect(await list('1.8.7', `unix://${socket}`)).toMatchObject({ stdout: '', stderr: expect.stringMatching(/^Failed to dial target host "unix:\/\/\/.*"/), code: 1 });
  });

  it('1.9.0 and 1.9.1: -unix with the bare path works; unix:// is no address', async () => {
    for (const version of ['1.9.0', '1.9.1'] as const) {
      expect(await list(version, '-unix', socket)).toEqual({ stdout: services, stderr: '', code: 0 });
      expect(await list(version, `unix://${socket}`)).toMatchObject({ stderr: expect.stringMatching(/^Failed to dial target host/), code: 1 });
    }
  });

  it('1.9.2 and 1.9.3: unix:///path works; -unix dials the path as HOST:PORT and fails', async () => {
    for (const version of ['1.9.2', '1.9.3'] as const) {
      expect(await list(version, `unix://${socket}`)).toEqual({ stdout: services, stderr: '', code: 0 });
      expect(await list(version, '-unix', socket)).toEqual({
        stdout: '',
        stderr: `Failed to dial target host "${socket}": connection error: desc = "transport: error while dialing: dial tcp: address ${socket}: missing port in address"\n`,
        code: 1,
      });
    }
  });

  it('knows only the versions it reproduces', async () => {
    expect(GRPCURL_VERSIONS).toContain('1.9.3');
    await expect(grpcurl(['-plaintext', `unix://${socket}`, 'list'], { version: '1.7.0' as GrpcurlVersion })).rejects.toThrow(/not reproduced/);
  });
});

describe('output of a response', () => {
  it('orders fields by number and sorts map keys, as grpcurl 1.9.x does; bad usage exits 2', async () => {
    const open = await grpcurl(['-plaintext', '-d', '{"type": "dummy"}', `unix://${socket}`, 'vifplug.v1.VifPlug/Open']);
    expect(open.stdout).toBe(`{\n  "instanceId": "${instanceId}",\n  "maintainedIfaceOptions": [\n    "plug-dummy-option"\n  ]\n}\n`);
    const prepare = await grpcurl(['-plaintext', '-d', JSON.stringify({ instanceId, opType: 'OP_TYPE_CREATE', lportName: 'lsp9', lportOptions: { 'vif-plug-type': 'dummy' } }), `unix://${socket}`, 'vifplug.v1.VifPlug/PreparePort']);
    expect(prepare.stdout).toMatch(/^\{\n {2}"plug": true,\n {2}"ctxId": "[A-Za-z0-9_-]{24}",\n {2}"name": "lsp9",\n {2}"type": "internal",\n {2}"ifaceOptions": \{\n {4}"plug-dummy-option": "value"\n {2}\}\n\}\n$/);
    expect(await grpcurl(['-plaintext', `unix://${socket}`])).toEqual({ stdout: '', stderr: "Too few arguments.\nTry 'grpcurl -help' for more details.\n", code: 2 });
  });
});
