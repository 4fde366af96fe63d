import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { OvsdbProtocolError } from '../../src/ovsdb';
import { JsonStream } from '../../src/ovsdb/json-stream';

/** Feeds `bytes` cut at `cuts` and returns every value completed. */
function feed(stream: JsonStream, bytes: Buffer, cuts: number[]): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
    out.push(...stream.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return out;
}

describe('JsonStream', () => {
  it('splits messages sent back to back, whatever the chunk boundaries, strings and UTF-8 included', () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    const message = fc.oneof(fc.dictionary(fc.string({ unit: 'binary' }), value, { size: 'small' }), fc.array(value, { size: 'small' }));
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (messages, rawCuts, spaced) => {
        const bytes = Buffer.from(messages.map((m) => JSON.stringify(m)).join(spaced ? '\n ' : ''));
        const cuts = rawCuts.map((c) => c % (bytes.length + 1));
        // Compared as text: what JSON.parse of each message alone gives, in order.
        const got = JSON.stringify(feed(new JsonStream(1 << 20), bytes, cuts));
        if (got !== JSON.stringify(messages)) expect(got).toBe(JSON.stringify(messages));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps brackets and escaped quotes inside strings out of the nesting, cut at every byte', () => {
    const messages = [{ id: 1, result: ['a}b', 'c]"d', '\\', '\\"{', 'é€😀'] }, { method: 'update2', params: ['{[', { x: '"}' }] }];
    const bytes = Buffer.from(messages.map((m) => JSON.stringify(m)).join(''));
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (const step of [1, 7]) {
        const cuts = [];
        for (let c = cut; c < bytes.length; c += step) cuts.push(c);
        expect(feed(new JsonStream(1 << 20), bytes, cuts)).toEqual(messages);
      }
    }
  });

  it('fails a message over the size limit while it is still arriving', () => {
    const stream = new JsonStream(1000);
    expect(stream.push(Buffer.from(`{"small":"${'x'.repeat(900)}"}`))).toHaveLength(1);
    stream.push(Buffer.from(`{"big":"${'x'.repeat(600)}`));
    expect(() => stream.push(Buffer.from('x'.repeat(600)))).toThrow(/larger than the 1000-byte limit/);
  });

  it('refuses what is not a JSON object or array, and invalid JSON', () => {
    expect(() => new JsonStream(1000).push(Buffer.from('42'))).toThrow(OvsdbProtocolError);
    expect(() => new JsonStream(1000).push(Buffer.from('{"a":tru}'))).toThrow(/not valid JSON/);
  });
});
