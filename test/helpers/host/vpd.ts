/**
 * PCI VPD byte layouts as a card's EEPROM holds them and the kernel shows
 * them in bus/pci/devices/<bdf>/vpd: an identifier string (large tag 0x82), a
 * read-only section (0x90) of keywords closed by RV with its checksum, an
 * optional read/write section (0x91), and the end tag (0x78). Built byte by
 * byte, so that tests can also break them where a real file breaks.
 */

export interface VpdLayout {
  /** The identifier string (product name); undefined leaves it out. */
  readonly id?: string;
  /** VPD-R keywords in order (RV is added after them unless `checksum` is false). */
  readonly readOnly?: readonly (readonly [string, string | Uint8Array])[];
  /** true: an RV keyword with the right checksum (and 'wrong': with a wrong one); false: none. */
  readonly checksum?: boolean | 'wrong';
  /** VPD-W keywords. */
  readonly writable?: readonly (readonly [string, string | Uint8Array])[];
  /** Bytes after the end tag, as a kernel that reads the whole EEPROM shows them. */
  readonly trailing?: number;
}

/** A BlueField-2 DPU's VPD as NVIDIA programs it (values of this shape, made up). */
export const BLUEFIELD_VPD: VpdLayout = {
  id: 'BlueField-2 DPU 25GbE Dual-Port SFP56, Crypto Enabled, 16GB on-board DDR, 1GbE OOB management, Tall Bracket',
  readOnly: [
    ['PN', 'MBF2H332A-AEEOT'],
    ['EC', 'A5'],
    ['V2', 'MBF2H332A-AEEOT'],
    ['SN', 'MT2113X00001'],
    ['V3', '9d4f1e0c37a6eb11800008c0eb1f2d3e'],
    ['VA', 'MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:MODL=BF2H332A'],
    ['V0', 'PCIeGen4 x8'],
  ],
  checksum: true,
};

/** A ConnectX-6 Dx's VPD: the host side's card. */
export function connectxVpd(serial: string): VpdLayout {
  return {
    id: 'ConnectX-6 Dx EN adapter card, 25GbE, Dual-port SFP28, PCIe 4.0 x8, Crypto and Secure Boot',
    readOnly: [
      ['PN', 'MCX621102AC-ADAT'],
      ['EC', 'A6'],
      ['V2', 'MCX621102AC-ADAT'],
      ['SN', serial],
      ['V3', '3a1f8b2c4d5e11ec8000b8cef6a1b2c3'],
      ['VA', 'MLX:MODL=CX621102A:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0'],
      ['V0', 'PCIeGen4 x8'],
    ],
    checksum: true,
  };
}

export function vpdBytes(layout: VpdLayout): Buffer {
  const out: number[] = [];
  const large = (tag: number, data: readonly number[]) => out.push(tag, data.length & 0xff, data.length >> 8, ...data);
  const keyword = (name: string, value: string | Uint8Array) => {
    const data = typeof value === 'string' ? [...Buffer.from(value, 'latin1')] : [...value];
    return [name.charCodeAt(0), name.charCodeAt(1), data.length, ...data];
  };
  if (layout.id !== undefined) large(0x82, [...Buffer.from(layout.id, 'latin1')]);
  if (layout.readOnly !== undefined) {
    const data = layout.readOnly.flatMap(([k, v]) => keyword(k, v));
    if (layout.checksum !== false) {
      // RV: its first byte makes every byte from 0 through it sum to 0; the rest is reserved.
      const reserved = 4;
      const body = [...data, 0x52, 0x56, 1 + reserved];
      const header = [0x90, (body.length + 1 + reserved) & 0xff, (body.length + 1 + reserved) >> 8];
      const sum = [...out, ...header, ...body].reduce((a, b) => (a + b) & 0xff, 0);
      const check = (0x100 - sum) & 0xff;
      out.push(...header, ...body, layout.checksum === 'wrong' ? (check + 1) & 0xff : check, ...new Array<number>(reserved).fill(0));
    } else {
      large(0x90, data);
    }
  }
  if (layout.writable !== undefined) large(0x91, layout.writable.flatMap(([k, v]) => keyword(k, v)));
  out.push(0x78);
  for (let i = 0; i < (layout.trailing ?? 0); i++) out.push(0xff);
  return Buffer.from(out);
}
