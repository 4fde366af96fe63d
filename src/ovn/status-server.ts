/**
 * Where an operator asks the running agent which lports it plugged, which
 * wait, and why: HTTP on a local unix socket (`vifplug-ovn status` reads it;
 * so does `curl --unix-socket PATH http://agent/status`). GET /status
 * answers the AgentStatus as JSON. The socket is 0660: the status names
 * lports, nothing more, but it is nobody else's business either.
 */

import { createServer, request, type Server } from 'node:http';

import { claimSocketPath, protectSocket, releaseSocket } from '../common/socket-file';
import type { AgentStatus } from './agent';

export class StatusServer {
  private server: Server | undefined;
  private inode = 0;

  constructor(
    private readonly path: string,
    private readonly status: () => AgentStatus,
  ) {}

  async start(): Promise<void> {
    await claimSocketPath(this.path, { flag: '--status-socket PATH' });
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/status' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /status\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(this.status())}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    this.server = server;
    this.inode = await protectSocket(this.path, 0o660);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await releaseSocket(this.path, this.inode).catch(() => undefined);
  }
}

/** Reads the status of the agent serving `path`. */
export function fetchStatus(path: string, timeoutMs = 5000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: '/status', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as AgentStatus);
        } catch (err) {
          reject(new Error(`the agent at ${path} answered something that is not its status: ${(err as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`the agent at ${path} did not answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`cannot reach the agent at ${path}: ${err.message}; is vifplug-ovn running with this --status-socket?`)));
    req.end();
  });
}
