/** Requests as a controller sends them. */
import { OpType, PreparePortRequest, VifPlugService } from '../../src/gen/vifplug/v1/vifplug';

/** The options OVN forwards for a port plugged by the dummy provider (as in the README). */
export function dummyOptions(): Map<string, string> {
  return new Map([
    ['vif-plug-type', 'dummy'],
    ['vif-plug-mtu-request', '1500'],
  ]);
}

/** An encoded CREATE PreparePortRequest. */
export function encodePrepare(instanceId: string, lportName: string, lportOptions: Map<string, string>): Buffer {
  return VifPlugService.preparePort.requestSerialize(
    PreparePortRequest.fromPartial({ instanceId, opType: OpType.OP_TYPE_CREATE, lportName, lportOptions }),
  );
}
