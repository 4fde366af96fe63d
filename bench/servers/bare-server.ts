/**
 * The floor: a bare grpc-js server, no vifplug code. It answers the method
 * paths it is given with a fixed, pre-encoded reply (the bytes of a real
 * vifplug reply, so sizes match) and does no work: the request is not even
 * decoded. Same grpc-js as vifplugd, built with the server options the parent
 * passes (vifplugd's), run with the same node flags.
 *
 * As a forked child it takes its replies over IPC ("start"). Run directly as
 * `node bare-server.js --standalone unix:///path.sock` it serves only
 * grpc.health.v1.Health/Check (SERVING): the start-up floor.
 */
import { Server, ServerCredentials, type ServerOptions, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';

import { serveParent } from '../lib/ipc';

const identity = (b: Buffer): Buffer => b;

/** grpc.health.v1.HealthCheckResponse{status: SERVING}: field 1, varint 1. */
const HEALTH_SERVING = Buffer.from([0x08, 0x01]);

function makeServer(replies: ReadonlyMap<string, Buffer>, options: ServerOptions = {}): Server {
  const server = new Server(options);
  const definition: Record<string, ServiceDefinition[string]> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const [path, reply] of replies) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    definition[name] = {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
    implementation[name] = (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, reply);
  }
  server.addService(definition as ServiceDefinition, implementation);
  return server;
}

function bind(server: Server, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

async function standalone(target: string): Promise<void> {
  const server = makeServer(new Map([['/grpc.health.v1.Health/Check', HEALTH_SERVING]]));
  await bind(server, target);
  process.once('SIGTERM', () => server.forceShutdown());
}

export interface StartArg {
  readonly unixPath: string;
  readonly replies: Record<string, Uint8Array>;
  /** grpc-js server options: vifplugd's, so that the floor is the same server minus the work. */
  readonly serverOptions: ServerOptions;
}

if (process.argv[2] === '--standalone') {
  void standalone(process.argv[3]!);
} else {
  let server: Server | undefined;
  serveParent({
    async start(arg: StartArg) {
      server = makeServer(new Map(Object.entries(arg.replies).map(([path, bytes]) => [path, Buffer.from(bytes)])), arg.serverOptions);
      await bind(server, `unix://${arg.unixPath}`);
      const port = await bind(server, '127.0.0.1:0');
      return { unix: `unix://${arg.unixPath}`, tcp: `127.0.0.1:${port}` };
    },
    beforeExit() {
      server?.forceShutdown();
    },
  });
}
