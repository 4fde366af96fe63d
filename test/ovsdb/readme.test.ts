import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it, vi } from 'vitest';

import { ROOT, blocksCheckedBy } from '../helpers/docs';
import { SCHEMAS, startOvsdbServer, type OvsdbServer } from '../helpers/ovsdb-server';
import { tempDir } from '../helpers/server';

/** The TypeScript block of the docs' OVSDB client page, exactly as shown. */
function readmeExample(): string {
  const [block, ...more] = blocksCheckedBy('test/ovsdb/readme.test.ts');
  expect(block, 'the docs have a block for this test').toBeDefined();
  expect(more).toEqual([]);
  return block!.body;
}

let dir: ReturnType<typeof tempDir>;
let server: OvsdbServer;
beforeAll(async () => {
  dir = tempDir('ovsdb-');
  server = await startOvsdbServer({ dir: dir.path, schema: SCHEMAS.sb });
});
afterAll(async () => {
  await server?.stop();
  dir?.remove();
});

it('runs the docs\' example as shown and prints what its comment says', async () => {
  const file = join(dir.path, 'example.ts');
  writeFileSync(file, readmeExample().replace("from './ovsdb'", `from '${join(ROOT, 'src', 'ovsdb')}'`));
  const logged: unknown[][] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args));
  process.env.OVN_SB_DB = server.unix;
  try {
    await import(file);
  } finally {
    spy.mockRestore();
    delete process.env.OVN_SB_DB;
  }
  expect(logged).toContainEqual(['chassis changed:', 1, 'inserted']);
  expect(logged.at(-1)).toEqual([['hv1 on node-1']]);
});
