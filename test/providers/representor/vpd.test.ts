/**
 * The PCI VPD parser on byte layouts as cards hold them (a BlueField-2's, a
 * ConnectX's) and as files break: truncated anywhere, wrong tags, a VPD-R
 * without SN, a bad checksum, binary garbage. Every broken input is a
 * VpdError naming the problem and where; none crashes, and random bytes never
 * yield a serial that the checksum did not vouch for or a read past the end.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { VPD_MAX_BYTES, VpdError, cardFacts, parseVpd, type VpdProblem } from '../../../src/providers/representor/vpd';
import { BLUEFIELD_VPD, connectxVpd, vpdBytes } from '../../helpers/host/vpd';

function problemOf(bytes: Uint8Array): { problem: VpdProblem; message: string } {
  try {
    cardFacts(parseVpd(bytes));
  } catch (err) {
    if (err instanceof VpdError) return { problem: err.problem, message: err.message };
    throw err;
  }
  throw new Error('expected a VpdError');
}

describe('parseVpd on real layouts', () => {
  it("reads a BlueField-2's identifier string, PN, EC and SN, and checks RV", () => {
    const vpd = parseVpd(vpdBytes(BLUEFIELD_VPD));
    expect(vpd.checksum).toBe('valid');
    expect([...vpd.readOnly.keys()]).toEqual(['PN', 'EC', 'V2', 'SN', 'V3', 'VA', 'V0', 'RV']);
    expect(cardFacts(vpd)).toEqual({
      serialNumber: 'MT2113X00001',
      partNumber: 'MBF2H332A-AEEOT',
      productName: BLUEFIELD_VPD.id,
      engineeringChange: 'A5',
    });
  });

  it('ignores what follows the end tag (a kernel that shows the whole EEPROM), and the read/write section', () => {
    const bytes = vpdBytes({ ...connectxVpd('MT2203X12345'), writable: [['V1', 'scratch'], ['YA', 'asset-17']], trailing: 200 });
    const vpd = parseVpd(bytes);
    expect(cardFacts(vpd).serialNumber).toBe('MT2203X12345');
    expect(vpd.length).toBe(bytes.length - 200);
  });

  it('trims the spaces and NULs vendors pad fields with', () => {
    expect(cardFacts(parseVpd(vpdBytes({ id: 'NIC  \0', readOnly: [['SN', 'ABC123   \0\0']] }))).serialNumber).toBe('ABC123');
  });

  it('refuses a VPD-R without RV: the PCI spec requires it, and without it a corrupted length byte still parses into a shorter serial', () => {
    const problem = problemOf(vpdBytes({ id: 'NIC', readOnly: [['SN', 'S1']], checksum: false }));
    expect(problem.problem).toBe('checksum');
    expect(problem.message).toMatch(/has no RV checksum, which the PCI spec requires/);
  });
});

describe('parseVpd on broken files', () => {
  const good = vpdBytes(BLUEFIELD_VPD);

  it('every truncation of a real VPD is an error, never a serial read from missing bytes', () => {
    for (let n = 0; n < good.length; n++) {
      const { problem } = problemOf(good.subarray(0, n));
      expect(['empty', 'truncated', 'no-end'], `cut at ${n}`).toContain(problem);
    }
  });

  it('an item longer than the file: truncated, with where and how much', () => {
    const bytes = Buffer.from(good.subarray(0, 120));
    expect(problemOf(bytes)).toMatchObject({ problem: 'truncated' });
    expect(problemOf(bytes).message).toMatch(/item 0x90 at offset \d+ declares \d+ bytes, but only \d+ follow/);
  });

  it('wrong tags: not starting with the identifier string, an unknown large tag, a stray small tag', () => {
    expect(problemOf(Buffer.from([0x90, 0x00, 0x00, 0x78])).message).toContain('starts with tag 0x90, not the identifier string (0x82)');
    const unknown = Buffer.concat([vpdBytes({ id: 'NIC' }).subarray(0, 6), Buffer.from([0x84, 0x01, 0x00, 0x00, 0x78])]);
    expect(problemOf(unknown)).toEqual({ problem: 'wrong-tag', message: 'large resource tag 0x84 at offset 6 is not one VPD has (0x82 identifier, 0x90 read-only, 0x91 read/write)' });
    const small = Buffer.concat([vpdBytes({ id: 'NIC' }).subarray(0, 6), Buffer.from([0x22, 0x00, 0x00, 0x78])]);
    expect(problemOf(small).problem).toBe('wrong-tag');
  });

  it('an unprogrammed EEPROM (all 0xff, all 0x00) and an empty file', () => {
    expect(problemOf(Buffer.alloc(256, 0xff))).toMatchObject({ problem: 'unprogrammed' });
    expect(problemOf(Buffer.alloc(256, 0x00)).problem).toBe('unprogrammed');
    expect(problemOf(Buffer.alloc(0)).problem).toBe('empty');
  });

  it('a VPD-R without SN, and a VPD without any VPD-R', () => {
    expect(problemOf(vpdBytes({ id: 'NIC', readOnly: [['PN', 'X'], ['EC', 'A1']] }))).toEqual({ problem: 'no-serial', message: 'the read-only section has no SN keyword (keywords: PN, EC, RV)' });
    expect(problemOf(vpdBytes({ id: 'NIC' })).message).toBe('the VPD has no read-only section (0x90), so no SN keyword');
    expect(problemOf(vpdBytes({ id: 'NIC', readOnly: [['SN', '   ']] })).message).toBe('the SN keyword is blank');
  });

  it('a checksum that does not add up: the bytes cannot be trusted, however plausible the SN', () => {
    const { problem, message } = problemOf(vpdBytes({ ...BLUEFIELD_VPD, checksum: 'wrong' }));
    expect(problem).toBe('checksum');
    expect(message).toMatch(/the RV checksum does not add up: the bytes from offset 0 through \d+ sum to 0x01, not 0/);
    // One flipped bit in the serial is caught by RV.
    const flipped = Buffer.from(good);
    flipped[flipped.indexOf('MT2113X00001')] ^= 0x01;
    expect(problemOf(flipped).problem).toBe('checksum');
  });

  it('keywords that are not keywords, run past their section, or repeat', () => {
    expect(problemOf(vpdBytes({ id: 'NIC', readOnly: [['s\x01', 'x']] })).problem).toBe('bad-keyword');
    expect(problemOf(vpdBytes({ id: 'NIC', readOnly: [['SN', 'A'], ['SN', 'B']] })).message).toContain('keyword SN appears twice');
    // SN claims 40 bytes in a section of 8.
    const bytes = Buffer.from([...vpdBytes({ id: 'NIC' }).subarray(0, 6), 0x90, 0x08, 0x00, 0x53, 0x4e, 40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x78]);
    expect(problemOf(bytes)).toEqual({ problem: 'truncated', message: 'keyword SN at offset 9 declares 40 bytes, but the read-only section has 5 left' });
  });

  it('a serial that is not text, and a file larger than a VPD can be', () => {
    expect(problemOf(vpdBytes({ id: 'NIC', readOnly: [['SN', new Uint8Array([0x41, 0x07, 0x42])]] })).message).toBe('SN holds byte 0x07 at its position 1: not printable ASCII');
    expect(problemOf(Buffer.concat([good, Buffer.alloc(VPD_MAX_BYTES)])).problem).toBe('too-large');
  });

  it('random bytes, and random corruptions of a real VPD, give a VpdError or facts that RV vouched for, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          const facts = cardFacts(parseVpd(bytes));
          expect(typeof facts.serialNumber).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(VpdError);
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bytes = Buffer.from(good);
        bytes[at] ^= xor;
        try {
          const vpd = parseVpd(bytes);
          const facts = cardFacts(vpd);
          // A change that still parses was outside the checksummed bytes (past RV's checksum byte), so the serial is untouched.
          if (at <= good.indexOf('RV') + 3) throw new Error(`corruption at ${at} (xor ${xor}) passed the checksum: ${vpd.checksum}`);
          expect(facts.serialNumber).toBe('MT2113X00001');
        } catch (err) {
          if (!(err instanceof VpdError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
