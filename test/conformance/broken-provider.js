// @ts-check
/**
 * A provider for provider-check's tests, written on bare @grpc/grpc-js and
 * the package's generated messages (no SDK), as a provider in another
 * language would be: by default it keeps every rule (the one-based provider
 * of examples/, with handles it keeps per ctx, reasons sent in the
 * vifplug-reason trailer only, and no grpc.health.v1.Health); with --break
 * NAME it breaks one. Usage:
 *
 *   node broken-provider.js --socket /abs/path.sock --type TYPE [--break NAME]
 *
 * It prints "serving" once it serves.
 */
const { parseArgs } = require('node:util');

const grpc = require('@grpc/grpc-js');
const { providerApi: api } = require('vifplug');

const BREAKS = [
  'none',
  'wrong-type',
  'no-api-version',
  'long-name',
  'slash-name',
  'name-300',
  'space-name',
  'equals-option-key',
  'newline-option-value',
  'long-option-key',
  'garbage-answer',
  'decline-without-reason',
  'error-without-reason',
  'unstable-name',
  'hang',
  'finish-crash',
  'malformed-unchecked',
  'cancel-crash',
  'ports-reversed',
  'stream-wrong-id',
  'destroy-not-idempotent',
  'watch-ends',
];

const { values } = parseArgs({ options: { socket: { type: 'string' }, type: { type: 'string' }, break: { type: 'string', default: 'none' } } });
const socket = /** @type {string} */ (values.socket);
const type = /** @type {string} */ (values.type);
const broken = /** @type {string} */ (values.break);
if (!BREAKS.includes(broken)) {
  process.stderr.write(`unknown --break ${broken}; one of ${BREAKS.join(', ')}\n`);
  process.exit(2);
}
const option = `vif-plug:${type}:vf-num`;

/** Handles of what it holds, per ctx; Init forgets them. */
const handles = new Set();
let counter = 0;

/** A status with the reason in the vifplug-reason trailer, as a runtime without the google.rpc protos sends it. */
/** @param {number} code @param {string} reason @param {string} message */
function failure(code, reason, message) {
  const metadata = new grpc.Metadata();
  if (reason !== '') metadata.set('vifplug-reason', reason);
  return { code, details: message, metadata, reason };
}

const MALFORMED = Symbol('malformed');

/** One port's answer (a PreparePortResponse), or a failure; a promise for the slow breaks. */
/** @param {any} ctxIn @returns {any} */
function prepare(ctxIn) {
  if (broken !== 'malformed-unchecked' && (ctxIn === undefined || ctxIn === MALFORMED || ctxIn.opType === api.OpType.OP_TYPE_UNSPECIFIED)) {
    return failure(grpc.status.INVALID_ARGUMENT, 'MALFORMED_REQUEST', 'ctx_in is missing or has no op_type');
  }
  if (broken === 'hang') return new Promise(() => undefined);
  const handle = Buffer.from(`${ctxIn.opType === api.OpType.OP_TYPE_REMOVE ? 'r' : 'h'}${++counter}`);
  if (ctxIn.opType === api.OpType.OP_TYPE_REMOVE) {
    handles.add(handle.toString());
    return answer({ plug: true, handle });
  }
  const vfNum = ctxIn.lportOptions.get(option);
  if (vfNum === undefined) {
    if (broken === 'decline-without-reason') return answer({ plug: false, declineReason: '', declineMessage: '' });
    if (broken === 'error-without-reason') return failure(grpc.status.FAILED_PRECONDITION, '', 'no vf-num');
    return answer({ plug: false, declineReason: 'NO_VF_NUM', declineMessage: `lport ${ctxIn.lportName} has no ${option} option` });
  }
  if (!/^[1-9][0-9]{0,4}$/.test(vfNum)) return failure(grpc.status.INVALID_ARGUMENT, 'INVALID_OPTION', `${option}="${vfNum}" is not a VF number`);
  let name = `pf0vf${Number(vfNum) - 1}`;
  const ifaceOptions = new Map();
  if (broken === 'long-name') name = 'x'.repeat(2000);
  if (broken === 'slash-name') name = 'pf0/vf2';
  if (broken === 'name-300') name = 'p'.repeat(300);
  if (broken === 'space-name') name = 'pf0 vf2';
  if (broken === 'unstable-name') name = `pf0vf${counter}`;
  if (broken === 'long-option-key') ifaceOptions.set('k'.repeat(300), 'v');
  if (broken === 'equals-option-key') ifaceOptions.set('a=b', 'v');
  if (broken === 'newline-option-value') ifaceOptions.set('mtu_request', '1500\nexternal_ids:x=y');
  handles.add(handle.toString());
  return answer({ plug: true, ctxOut: { name, type: '', ifaceOptions }, handle });
}

/** @param {object} fields */
function answer(fields) {
  return { plug: false, ctxOut: undefined, handle: Buffer.alloc(0), declineReason: '', declineMessage: '', ...fields };
}

/** A unary handler over `fn`: its value answered, a failure (with `code`) as a status. */
/** @param {(request: any, call: any) => any} fn */
function unary(fn) {
  /** @param {any} call @param {any} callback */
  return (call, callback) => {
    Promise.resolve(fn(call.request, call)).then(
      (/** @type {any} */ value) => (value && value.code !== undefined && value.details !== undefined ? callback(value) : callback(null, value)),
      (err) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
    );
  };
}

/** @param {any} value */
function portResult(value) {
  if (value.code !== undefined && value.details !== undefined) return { result: { $case: 'error', value: { code: value.code, reason: value.reason, message: value.details, metadata: new Map() } } };
  return { result: { $case: 'prepared', value } };
}

const implementation = {
  getInfo: unary(() => ({
    type: broken === 'wrong-type' ? `${type}-other` : type,
    apiVersions: broken === 'no-api-version' ? ['v0'] : ['v1'],
    maintainedIfaceOptions: [],
    capabilities: { listRepresentors: true, watch: true, preparePorts: true, portStream: true },
    providerVersion: `broken-${broken}`,
  })),
  init: unary(() => {
    handles.clear();
    return {};
  }),
  destroy: unary(() => ({})),
  open: unary(() => ({})),
  close: unary(() => ({})),
  run: unary(() => ({ changed: false })),
  preparePort: unary((/** @type {any} */ req, /** @type {any} */ call) => {
    if (broken !== 'cancel-crash') return prepare(req === MALFORMED ? MALFORMED : req.ctxIn);
    // Works 200 ms on each port, and dies when a call is cancelled meanwhile.
    let answered = false;
    call.on('cancelled', () => {
      if (!answered) process.exit(3);
    });
    return new Promise((resolve) =>
      setTimeout(() => {
        answered = true;
        resolve(prepare(req === MALFORMED ? MALFORMED : req.ctxIn));
      }, 200),
    );
  }),
  preparePorts: unary(async (/** @type {any} */ req) => {
    const results = [];
    for (const port of req.ports) results.push(portResult(await prepare(port)));
    if (broken === 'ports-reversed') results.reverse();
    return { results };
  }),
  portStream: (/** @type {any} */ call) => {
    call.on('data', async (/** @type {any} */ msg) => {
      if (msg === MALFORMED || msg.kind?.$case !== 'prepare') return;
      const result = portResult(await prepare(msg.kind.value.request?.ctxIn));
      call.write({ id: broken === 'stream-wrong-id' ? msg.id + 1000 : msg.id, result });
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  },
  finishPort: unary((/** @type {any} */ req) => {
    if (broken === 'finish-crash') process.exit(70);
    // A REMOVE's holdings are released by FinishPort, a CREATE's by DestroyPortCtx.
    if (req.handle.toString().startsWith('r')) handles.delete(req.handle.toString());
    return {};
  }),
  destroyPortCtx: unary((/** @type {any} */ req) => {
    const known = handles.delete(req.handle.toString());
    if (!known && broken === 'destroy-not-idempotent') return failure(grpc.status.NOT_FOUND, 'NO_SUCH_CTX', `no ctx with handle ${req.handle.toString()}`);
    return {};
  }),
  listRepresentors: unary(() => ({
    representors: [{ netdev: 'pf0vf0', ifindex: 7, flavour: 'pcivf', device: 'pci/0000:03:00.0', pfnum: 0, vfnum: 0, pfMac: '', source: 'devlink', physPortName: 'pf0vf0', lportOptions: new Map([[option, '1']]) }],
  })),
  watch: (/** @type {any} */ call) => {
    call.write({ generation: 1 });
    // The stream must last as long as the session; this one ends after its first message.
    if (broken === 'watch-ends') call.end();
    call.on('error', () => undefined);
  },
};

/** The service with decoders that cannot throw: bytes that are no message reach the handler as MALFORMED. */
const service = Object.fromEntries(
  Object.entries(api.ProviderService).map(([name, def]) => {
    const decode = (/** @type {Buffer} */ bytes) => {
      try {
        return def.requestDeserialize(bytes);
      } catch {
        return MALFORMED;
      }
    };
    const garbage = broken === 'garbage-answer' && name === 'preparePort';
    return [name, { ...def, requestDeserialize: decode, responseSerialize: garbage ? () => Buffer.from([0x0a, 0x05, 0x61]) : def.responseSerialize }];
  }),
);

const server = new grpc.Server();
server.addService(/** @type {any} */ (service), /** @type {any} */ (implementation));
server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('serving\n');
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
