import { describe, expect, it } from 'vitest';

import {
  describeFunction,
  optionsFor,
  parseRepresentorOptions,
  PF_MAC_OPTION,
  SF_NUM_OPTION,
  VF_NUM_OPTION,
} from '../../../src/providers/representor/options';
import { isPlugError, type PlugError } from '../../../src/registry/errors';

const MAC = '10:70:fd:df:9c:3a';

function parse(options: Record<string, string>) {
  return parseRepresentorOptions(new Map(Object.entries(options)));
}

function refusal(options: Record<string, string>): PlugError {
  try {
    parse(options);
  } catch (err) {
    if (isPlugError(err)) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('parseRepresentorOptions', () => {
  it('reads pf-mac in any case and vf-num in decimal', () => {
    expect(parse({ [PF_MAC_OPTION]: '10:70:FD:DF:9C:3A', [VF_NUM_OPTION]: '4' })).toEqual({ pfMac: MAC, fn: { kind: 'vf', num: 4 } });
    expect(parse({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: '0' })).toEqual({ pfMac: MAC, fn: { kind: 'vf', num: 0 } });
    expect(parse({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: '65535' })).toEqual({ pfMac: MAC, fn: { kind: 'vf', num: 65535 } });
  });

  it('selects the PF representor when vf-num is absent or empty, as ovn-vif does', () => {
    expect(parse({ [PF_MAC_OPTION]: MAC })).toEqual({ pfMac: MAC, fn: { kind: 'pf' } });
    expect(parse({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: '' })).toEqual({ pfMac: MAC, fn: { kind: 'pf' } });
  });

  it('reads sf-num up to 2^32-1', () => {
    expect(parse({ [PF_MAC_OPTION]: MAC, [SF_NUM_OPTION]: '77' })).toEqual({ pfMac: MAC, fn: { kind: 'sf', num: 77 } });
    expect(parse({ [PF_MAC_OPTION]: MAC, [SF_NUM_OPTION]: '4294967295' }).fn).toEqual({ kind: 'sf', num: 4294967295 });
  });

  it('ignores options of other providers', () => {
    expect(parse({ [PF_MAC_OPTION]: MAC, 'vif-plug:dummy:x': 'y', 'requested-chassis': 'dpu-1' }).fn).toEqual({ kind: 'pf' });
  });

  it.each(['3abc', '-1', '70000', '65536', '0x1', ' 1', '1 ', '+1', '01', '00', '1.0', '1e3', '４', 'NaN', 'Infinity', '99999999999999999999'])(
    'refuses vf-num %j naming the option',
    (value) => {
      const error = refusal({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: value });
      expect([error.status, error.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_OPTION']);
      expect(error.metadata).toEqual({ option: VF_NUM_OPTION });
      expect(error.message).toContain(VF_NUM_OPTION);
      expect(error.message).toContain('0 to 65535');
    },
  );

  it.each(['-1', '4294967296', '0x4d', '077', ' 7'])('refuses sf-num %j', (value) => {
    const error = refusal({ [PF_MAC_OPTION]: MAC, [SF_NUM_OPTION]: value });
    expect(error.metadata).toEqual({ option: SF_NUM_OPTION });
  });

  it.each(['', '10:70:fd:df:9c', '10:70:fd:df:9c:3a:00', '10-70-fd-df-9c-3a', '1070.fddf.9c3a', '1070fddf9c3a', ' 10:70:fd:df:9c:3a', '10:70:fd:df:9c:3g', '00:00:00:00:00:00', '$(reboot)'])(
    'refuses pf-mac %j',
    (value) => {
      const error = refusal({ [PF_MAC_OPTION]: value, [VF_NUM_OPTION]: '1' });
      expect([error.status, error.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_OPTION']);
      expect(error.metadata).toEqual({ option: PF_MAC_OPTION });
    },
  );

  it('requires pf-mac', () => {
    const error = refusal({ [VF_NUM_OPTION]: '1' });
    expect(error.metadata).toEqual({ option: PF_MAC_OPTION });
    expect(error.message).toMatch(/pf-mac is required/);
  });

  it('refuses vf-num and sf-num together', () => {
    expect(refusal({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: '1', [SF_NUM_OPTION]: '2' }).metadata).toEqual({ option: SF_NUM_OPTION });
  });

  it('refuses unknown keys of its own namespace (a typo must not plug the PF representor)', () => {
    const error = refusal({ [PF_MAC_OPTION]: MAC, 'vif-plug:representor:vfnum': '4' });
    expect(error.metadata).toEqual({ option: 'vif-plug:representor:vfnum' });
    expect(error.message).toContain(VF_NUM_OPTION);
  });

  it('bounds how much of a bad value it echoes', () => {
    const error = refusal({ [PF_MAC_OPTION]: MAC, [VF_NUM_OPTION]: 'x'.repeat(100_000) });
    expect(error.message.length).toBeLessThan(300);
  });

  it('round-trips through optionsFor', () => {
    for (const fn of [{ kind: 'pf' }, { kind: 'vf', num: 7 }, { kind: 'sf', num: 88 }] as const) {
      expect(parseRepresentorOptions(optionsFor(MAC, fn))).toEqual({ pfMac: MAC, fn });
      expect(describeFunction(fn)).toMatch(/PF representor|VF 7|SF 88/);
    }
  });
});
