/**
 * The cross-check's floor, written as someone outside the project would write
 * a zero-work server: grpc-js with its default options, vifplug.v1.VifPlug
 * loaded from the .proto by @grpc/proto-loader, PreparePort answered with
 * canned bytes (a reply vifplugd gave) and the request never decoded.
 *
 * It must stay independent of everything it checks: it imports grpc-js,
 * proto-loader and Node only (no vifplug code, no bench library).
 *
 *   node canned-server.js PROTO_DIR REPLY_HEX TARGET...
 *
 * Prints one JSON line, {"listening": [target...]} (a TCP port 0 replaced by
 * the port bound), once every target is bound; exits on SIGTERM.
 */
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const [protoDir, replyHex, ...targets] = process.argv.slice(2);
if (protoDir === undefined || replyHex === undefined || targets.length === 0) {
  process.stderr.write('usage: canned-server.js PROTO_DIR REPLY_HEX TARGET...\n');
  process.exit(2);
}

const definition = loadSync('vifplug/v1/vifplug.proto', { includeDirs: [protoDir] });
const service = definition['vifplug.v1.VifPlug'] as ServiceDefinition;
const preparePort = service['PreparePort']!;
const reply = Buffer.from(replyHex, 'hex');
const bytes = (b: Buffer): Buffer => b;

const server = new Server();
const implementation: UntypedServiceImplementation = {
  PreparePort: (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, reply),
};
server.addService({ PreparePort: { ...preparePort, requestDeserialize: bytes, responseSerialize: bytes } }, implementation);

function bind(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else resolve(target.startsWith('unix:') ? target : target.replace(/:0$/, `:${port}`));
    });
  });
}

void (async () => {
  const listening: string[] = [];
  for (const target of targets) listening.push(await bind(target));
  process.stdout.write(`${JSON.stringify({ listening })}\n`);
})().catch((err: unknown) => {
  process.stderr.write(`canned-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
