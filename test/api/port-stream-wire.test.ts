import { describe, expect, it } from 'vitest';

import { encodeCancelRequest, encodePortStreamResponse, encodePrepareRequest } from '../../src/api/port-stream-wire';
import { PortCtxIn, PortStreamRequest, PortStreamResponse, type PortResult } from '../../src/gen/vifplug/provider/v1/provider';

// The PortStream's hand-written wrappers give exactly the bytes of the
// generated encoder, and decode back to what was encoded.

const ctxIns = [
  PortCtxIn.fromPartial({ opType: 1, lportName: 'vm1-port', lportOptions: new Map([['vif-plug:dummy:x', 'é'.repeat(200)]]) }),
  PortCtxIn.fromPartial({ opType: 2, useDpdk: true, lportName: 'l'.repeat(1024), ifaceName: 'pf0vf1', ifaceType: 'dpdk', ifaceOptions: new Map([['k', 'v']]) }),
  PortCtxIn.fromPartial({ opType: 1, lportName: '漢字', lportOptions: new Map([['', ''], ['k', ''], ['', 'v'], ['lone', 'a\ud800b']]), ifaceOptions: new Map([['x'.repeat(300), 'y'.repeat(20_000)]]) }),
  PortCtxIn.fromPartial({ opType: -1, lportName: 'negative op_type' }),
  PortCtxIn.fromPartial({}),
];
const ids = [0, 1, 127, 128, 16_383, 16_384, 0xffffffff];
const timeouts = [0, 1, 300, 10_000, 0xffffffff];

describe('PortStreamRequest', () => {
  it('prepare: the generated encoder\'s bytes', () => {
    for (const id of ids) {
      for (const timeoutMs of timeouts) {
        for (const [i, ctxIn] of ctxIns.entries()) {
          const instanceId = i === ctxIns.length - 1 ? '' : 'AbCdEfGhIjKlMnOpQrStUvWx';
          const message: PortStreamRequest = { id, kind: { $case: 'prepare', value: { request: { instanceId, ctxIn }, timeoutMs } } };
          const bytes = encodePrepareRequest(id, instanceId, ctxIn, timeoutMs);
          expect(bytes.equals(Buffer.from(PortStreamRequest.encode(message).finish())), `${id} ${timeoutMs} ${i}`).toBe(true);
          if (i !== 2) expect(PortStreamRequest.decode(bytes)).toEqual(message);
        }
      }
    }
  });

  it('cancel: the generated encoder\'s bytes', () => {
    for (const id of ids) {
      const message: PortStreamRequest = { id, kind: { $case: 'cancel', value: {} } };
      expect(encodeCancelRequest(id).equals(Buffer.from(PortStreamRequest.encode(message).finish())), String(id)).toBe(true);
    }
  });
});

describe('PortStreamResponse', () => {
  const results: PortResult[] = [
    { result: { $case: 'prepared', value: { plug: true, ctxOut: { name: 'pf0vf1', type: 'internal', ifaceOptions: new Map([['a', 'b']]) }, handle: Buffer.from('h'), declineReason: '', declineMessage: '' } } },
    { result: { $case: 'prepared', value: { plug: false, ctxOut: undefined, handle: Buffer.alloc(0), declineReason: '', declineMessage: '' } } },
    { result: { $case: 'prepared', value: { plug: true, ctxOut: undefined, handle: Buffer.alloc(4096, 7), declineReason: '', declineMessage: '' } } },
    { result: { $case: 'error', value: { code: 5, reason: 'NO_VF', message: 'x'.repeat(300), metadata: new Map([['vf', '3']]) } } },
    { result: undefined },
  ];
  it('the generated encoder\'s bytes', () => {
    for (const id of ids) {
      for (const [i, result] of results.entries()) {
        const bytes = encodePortStreamResponse(id, result);
        expect(bytes.equals(Buffer.from(PortStreamResponse.encode({ id, result }).finish())), `${id} ${i}`).toBe(true);
        expect(PortStreamResponse.decode(bytes)).toEqual({ id, result });
      }
    }
  });
});
