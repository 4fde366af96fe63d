import { expect, it } from 'vitest';

import { interfaceName } from '../../../src/providers/dummy/dummy';

it('cuts lport names to IFNAMSIZ - 1 bytes as the seed does, never inside a character', () => {
  expect(interfaceName('lsp1')).toBe('lsp1');
  expect(interfaceName('123456789012345')).toBe('123456789012345');
  expect(interfaceName('1234567890123456')).toBe('123456789012345');
  // 'é' is two bytes: 14 ASCII bytes + 'é' would be 16 bytes, so it is dropped whole.
  expect(interfaceName('12345678901234é')).toBe('12345678901234');
  expect(Buffer.byteLength(interfaceName('ééééééééééé'))).toBe(14);
  expect(interfaceName('日本語のポート名')).toBe('日本語のポ');
});
