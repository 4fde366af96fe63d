import { expect, it } from 'vitest';

import { newId } from '../../src/registry/ctx-id';

it('makes 24-character base64url ids that never start like a command-line option, and never repeat', () => {
  const ids = Array.from({ length: 20_000 }, () => newId());
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{23}$/);
});
