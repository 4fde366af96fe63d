/**
 * A PCI function's Vital Product Data, as the kernel shows it in sysfs
 * (bus/pci/devices/<bdf>/vpd: the raw bytes, drivers/pci/vpd.c), parsed per
 * the PCI specification's VPD format, for the card's serial number (the SN
 * keyword) that identifies a SmartNIC/DPU to a CMS. Pure: bytes in, facts or
 * a VpdError out; every length is checked against what is there, so a
 * truncated file, a wrong tag or binary garbage is an error that says where,
 * never a crash or a serial read from the wrong bytes.
 *
 * The layout (PCI Local Bus spec, "Vital Product Data"; the kernel's
 * pci_vpd_size and pci_vpd_find_ro_info_keyword walk it the same way):
 * - a sequence of resource items, each a tag and its data:
 *   - large items: a tag byte with bit 7 set, then a 16-bit little-endian
 *     length: 0x82 the identifier string (the product name; first), 0x90 the
 *     read-only section VPD-R, 0x91 the read/write section VPD-W;
 *   - small items: bit 7 clear, name in bits 6-3, length in bits 2-0; the
 *     only one VPD has is the end tag 0x78, which closes the VPD;
 * - VPD-R and VPD-W hold keywords: two ASCII characters, a length byte, the
 *   data. VPD-R's SN is the serial number, PN the part number, EC the
 *   engineering change level, V0..VZ vendor fields, RV the checksum: its
 *   first data byte makes the sum of every byte from the start of the VPD
 *   through itself zero (mod 256); nothing after RV is read. RV is required
 *   (a read-only section without it is refused: its serial could not be told
 *   from a corrupted one).
 */

/** The VPD address is 15 bits wide (the kernel's PCI_VPD_MAX_SIZE): no VPD is longer. */
export const VPD_MAX_BYTES = 0x8000;

const TAG_ID_STRING = 0x82;
const TAG_VPD_R = 0x90;
const TAG_VPD_W = 0x91;
/** Small item name 0xf: the end tag (0x78 with no data). */
const SMALL_END = 0x0f;

export type VpdProblem =
  /** Zero bytes. */
  | 'empty'
  /** All 0xff or 0x00 where the first tag should be: an unprogrammed EEPROM. */
  | 'unprogrammed'
  | 'too-large'
  /** A tag that VPD does not have, or items in the wrong order. */
  | 'wrong-tag'
  /** An item or keyword longer than the bytes that are left. */
  | 'truncated'
  | 'no-end'
  | 'bad-keyword'
  | 'duplicate'
  | 'checksum'
  /** A field that should be text holds other bytes. */
  | 'not-text'
  | 'no-serial';

export class VpdError extends Error {
  override readonly name = 'VpdError';

  constructor(
    readonly problem: VpdProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface Vpd {
  /** The identifier string (product name); undefined when absent. */
  readonly identifier?: string;
  /** VPD-R's keywords and their raw data, in order. */
  readonly readOnly: ReadonlyMap<string, Uint8Array>;
  /**
   * The RV checksum added up ('valid'), or the VPD has no read-only section
   * at all ('absent'; then it has no serial either). A read-only section
   * without RV is refused: the PCI spec requires RV there, and without it a
   * single corrupted length byte can turn the serial into a shorter one that
   * still parses.
   */
  readonly checksum: 'valid' | 'absent';
  /** Where the end tag was: the VPD's length. */
  readonly length: number;
}

/** The card facts a CMS uses, read from a parsed VPD. */
export interface CardFacts {
  readonly serialNumber: string;
  readonly partNumber: string;
  readonly productName: string;
  readonly engineeringChange: string;
}

export function parseVpd(bytes: Uint8Array): Vpd {
  if (bytes.length === 0) throw new VpdError('empty', 'the VPD is empty');
  if (bytes.length > VPD_MAX_BYTES) throw new VpdError('too-large', `the VPD holds more than ${VPD_MAX_BYTES} bytes, more than a PCI VPD can (its address is 15 bits)`);
  if (bytes[0] === 0xff || bytes[0] === 0x00) {
    throw new VpdError('unprogrammed', `the VPD starts with byte 0x${hex(bytes[0]!)}, not a resource tag: it is not programmed (an empty EEPROM reads as 0x${hex(bytes[0]!)})`);
  }
  let identifier: string | undefined;
  let readOnly: Map<string, Uint8Array> | undefined;
  let checksum: Vpd['checksum'] = 'absent';
  let sawWritable = false;
  let off = 0;
  while (off < bytes.length) {
    const tag = bytes[off]!;
    if ((tag & 0x80) === 0) {
      const name = (tag >> 3) & 0x0f;
      if (name === SMALL_END) return { ...(identifier === undefined ? {} : { identifier }), readOnly: readOnly ?? new Map(), checksum, length: off + 1 };
      throw new VpdError('wrong-tag', `small resource tag 0x${hex(tag)} at offset ${off}: a VPD has no small item but the end tag (0x78)`);
    }
    if (off + 3 > bytes.length) throw new VpdError('truncated', `large resource tag 0x${hex(tag)} at offset ${off} is cut short: its 2-byte length is missing`);
    const length = bytes[off + 1]! | (bytes[off + 2]! << 8);
    const start = off + 3;
    const end = start + length;
    if (end > bytes.length) {
      throw new VpdError('truncated', `item 0x${hex(tag)} at offset ${off} declares ${length} bytes, but only ${bytes.length - start} follow: the VPD is truncated`);
    }
    if (off === 0 && tag !== TAG_ID_STRING) {
      throw new VpdError('wrong-tag', `the VPD starts with tag 0x${hex(tag)}, not the identifier string (0x82) the PCI spec puts first`);
    }
    switch (tag) {
      case TAG_ID_STRING:
        if (off !== 0) throw new VpdError('wrong-tag', `identifier string (0x82) at offset ${off}: it comes first, and once`);
        identifier = text(bytes.subarray(start, end), 'the identifier string');
        break;
      case TAG_VPD_R:
        if (readOnly !== undefined) throw new VpdError('duplicate', `a second read-only section (0x90) at offset ${off}`);
        if (sawWritable) throw new VpdError('wrong-tag', `read-only section (0x90) at offset ${off} after the read/write one (0x91)`);
        ({ keywords: readOnly, checksum } = readOnlyKeywords(bytes, start, end));
        break;
      case TAG_VPD_W:
        if (sawWritable) throw new VpdError('duplicate', `a second read/write section (0x91) at offset ${off}`);
        sawWritable = true;
        checkKeywords(bytes, start, end, 'read/write section');
        break;
      default:
        throw new VpdError('wrong-tag', `large resource tag 0x${hex(tag)} at offset ${off} is not one VPD has (0x82 identifier, 0x90 read-only, 0x91 read/write)`);
    }
    off = end;
  }
  throw new VpdError('no-end', `the VPD ends at byte ${bytes.length} without its end tag (0x78): it is truncated`);
}

/** The serial number and the rest of what a CMS shows; throws VpdError no-serial without an SN. */
export function cardFacts(vpd: Vpd): CardFacts {
  const sn = vpd.readOnly.get('SN');
  const have = [...vpd.readOnly.keys()].join(', ') || 'none';
  if (sn === undefined) {
    throw new VpdError('no-serial', vpd.readOnly.size === 0 ? 'the VPD has no read-only section (0x90), so no SN keyword' : `the read-only section has no SN keyword (keywords: ${have})`);
  }
  const serialNumber = text(sn, 'SN');
  if (serialNumber === '') throw new VpdError('no-serial', 'the SN keyword is blank');
  const field = (keyword: string): string => {
    const data = vpd.readOnly.get(keyword);
    return data === undefined ? '' : text(data, keyword);
  };
  return { serialNumber, partNumber: field('PN'), productName: vpd.identifier ?? '', engineeringChange: field('EC') };
}

function readOnlyKeywords(bytes: Uint8Array, start: number, end: number): { keywords: Map<string, Uint8Array>; checksum: Vpd['checksum'] } {
  const keywords = new Map<string, Uint8Array>();
  let off = start;
  while (off < end) {
    const { keyword, dataStart, dataEnd } = keywordAt(bytes, off, end, 'read-only section');
    if (keywords.has(keyword)) throw new VpdError('duplicate', `keyword ${keyword} appears twice in the read-only section (the second at offset ${off})`);
    keywords.set(keyword, bytes.subarray(dataStart, dataEnd));
    if (keyword === 'RV') {
      if (dataEnd === dataStart) throw new VpdError('checksum', `the RV keyword at offset ${off} has no checksum byte`);
      let sum = 0;
      for (let i = 0; i <= dataStart; i++) sum = (sum + bytes[i]!) & 0xff;
      if (sum !== 0) throw new VpdError('checksum', `the RV checksum does not add up: the bytes from offset 0 through ${dataStart} sum to 0x${hex(sum)}, not 0; the VPD is corrupt`);
      // What follows RV in the section is reserved space.
      return { keywords, checksum: 'valid' };
    }
    off = dataEnd;
  }
  throw new VpdError(
    'checksum',
    `the read-only section (offsets ${start}-${end - 1}) has no RV checksum, which the PCI spec requires: nothing in it can be verified, so its serial is not used`,
  );
}

function checkKeywords(bytes: Uint8Array, start: number, end: number, where: string): void {
  let off = start;
  while (off < end) off = keywordAt(bytes, off, end, where).dataEnd;
}

function keywordAt(bytes: Uint8Array, off: number, end: number, where: string): { keyword: string; dataStart: number; dataEnd: number } {
  if (off + 3 > end) throw new VpdError('truncated', `a keyword at offset ${off} of the ${where} is cut short (${end - off} byte(s) left, a keyword header takes 3)`);
  const a = bytes[off]!;
  const b = bytes[off + 1]!;
  if (!isKeywordChar(a) || !isKeywordChar(b)) {
    throw new VpdError('bad-keyword', `bytes 0x${hex(a)} 0x${hex(b)} at offset ${off} of the ${where} are not a keyword (two letters or digits)`);
  }
  const keyword = String.fromCharCode(a, b);
  const dataStart = off + 3;
  const dataEnd = dataStart + bytes[off + 2]!;
  if (dataEnd > end) {
    throw new VpdError('truncated', `keyword ${keyword} at offset ${off} declares ${bytes[off + 2]} bytes, but the ${where} has ${end - dataStart} left`);
  }
  return { keyword, dataStart, dataEnd };
}

function isKeywordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a);
}

/** Printable ASCII, with the trailing spaces and NULs vendors pad fields with removed. */
function text(data: Uint8Array, what: string): string {
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x20 || data[end - 1] === 0x00)) end--;
  for (let i = 0; i < end; i++) {
    const c = data[i]!;
    if (c < 0x20 || c > 0x7e) throw new VpdError('not-text', `${what} holds byte 0x${hex(c)} at its position ${i}: not printable ASCII`);
  }
  return Buffer.from(data.buffer, data.byteOffset, end).toString('latin1');
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
