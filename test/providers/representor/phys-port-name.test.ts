import { describe, expect, it } from 'vitest';

import { formatPhysPortName, parsePhysPortName } from '../../../src/providers/representor/phys-port-name';

describe('parsePhysPortName', () => {
  it.each([
    ['p0', { kind: 'uplink', port: 0 }],
    ['p1s2', { kind: 'uplink', port: 1, split: 2 }],
    ['pf0', { kind: 'pf', pf: 0 }],
    ['c1pf0', { kind: 'pf', controller: 1, pf: 0 }],
    ['pf0vf3', { kind: 'vf', pf: 0, vf: 3 }],
    ['c1pf0vf1', { kind: 'vf', controller: 1, pf: 0, vf: 1 }],
    ['c2pf0vf3', { kind: 'vf', controller: 2, pf: 0, vf: 3 }],
    ['pf1vf65535', { kind: 'vf', pf: 1, vf: 65535 }],
    ['pf0sf88', { kind: 'sf', pf: 0, sf: 88 }],
    ['c1pf0sf77', { kind: 'sf', controller: 1, pf: 0, sf: 77 }],
  ])('%s', (text, expected) => {
    expect(parsePhysPortName(text)).toEqual(expected);
  });

  it.each(['3', '42', 'vf42', 'PF1VF42', 'vf42@PF1', 'pf0vf-1', 'pf0vf', 'xpf0vf1', 'pf0vf1x', 'pf00vf1', 'pf0vf01', 'c01pf0vf1', 'pf0vf65536', 'l1p3', 'p', '', ' pf0vf1', 'pf0vf1\n', 'c1pf0vf1 ', 'pf0hpf'])(
    'rejects %j',
    (text) => {
      expect(parsePhysPortName(text)).toBeUndefined();
    },
  );
});

describe('formatPhysPortName', () => {
  it('prints what the kernel prints', () => {
    expect(formatPhysPortName({ flavour: 'physical', port: 1 })).toBe('p1');
    expect(formatPhysPortName({ flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 3, external: false })).toBe('pf0vf3');
    expect(formatPhysPortName({ flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 1, external: true })).toBe('c1pf0vf1');
    expect(formatPhysPortName({ flavour: 'pcivf', controller: 2, pfnum: 0, vfnum: 3, external: false })).toBe('c2pf0vf3');
    expect(formatPhysPortName({ flavour: 'pcipf', controller: 1, pfnum: 0, external: true })).toBe('c1pf0');
    expect(formatPhysPortName({ flavour: 'pcisf', pfnum: 0, sfnum: 88 })).toBe('pf0sf88');
    expect(formatPhysPortName({ flavour: 'virtual', port: 0 })).toBe('');
  });
});
