import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Challenge, Solver } from '../solver.js';

const PREFIX = '/.well-known/acme-challenge/';
/** Tokens are base64url (RFC 8555 8.1); anything else cannot be one of ours. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Finds the key authorization of a token another replica presented (undefined: unknown). */
export type KeyAuthorizationLookup = (token: string) => Promise<string | undefined>;

/**
 * Answers HTTP-01 challenges: `GET /.well-known/acme-challenge/TOKEN` returns the key
 * authorization of a presented token, anything else 404. In a cluster the controller routes
 * that path to this server with a temporary Ingress, and the Service behind it may pick any
 * replica: tokens this one did not present are looked up with `lookup`.
 */
export class HTTP01Solver implements Solver {
  readonly type = 'http-01' as const;
  private readonly tokens = new Map<string, string>();
  private server: Server | undefined;

  constructor(private readonly lookup?: KeyAuthorizationLookup) {}

  /** Listens on `port` (0: any free port) and `host` (default all interfaces). */
  async start(port = 0, host?: string): Promise<void> {
    if (this.server) throw new Error('HTTP-01 solver already started');
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Validation connections are short, but a keep-alive one would hold close() open.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
  }

  /** The port it listens on. */
  get port(): number {
    const addr = this.server?.address();
    if (!addr || typeof addr === 'string') throw new Error('HTTP-01 solver is not listening');
    return addr.port;
  }

  async present(ch: Challenge): Promise<void> {
    this.tokens.set(ch.token, ch.keyAuthorization);
  }

  async cleanUp(ch: Challenge): Promise<void> {
    this.tokens.delete(ch.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : '';
    const valid = (req.method === 'GET' || req.method === 'HEAD') && TOKEN.test(token);
    const answer = valid ? (this.tokens.get(token) ?? (await this.lookup?.(token))) : undefined;
    if (answer === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, {
        'Content-Type': 'text/plain',
        'Content-Length': Buffer.byteLength(answer),
      })
      .end(req.method === 'HEAD' ? undefined : answer);
  }
}
