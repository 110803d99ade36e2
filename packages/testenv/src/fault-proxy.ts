import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the proxy saw it. */
export interface ProxiedRequest {
  n: number;
  method: string;
  path: string;
  body: string;
  /** The Route53 operation, from method and path. */
  operation: string;
}

/** What the proxy does with a request: pass it on, or answer with an error. */
export type Fault =
  | undefined
  | { status: number; body: string; contentType?: string; afterForward?: boolean };

/** Route53's answer when its rate limit is exceeded. */
export const ROUTE53_THROTTLING = {
  status: 400,
  contentType: 'text/xml',
  body:
    '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
    '<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>' +
    '<RequestId>5f6bd6c1-0000-4000-8000-000000000000</RequestId></ErrorResponse>',
};
/** A 503 as any AWS endpoint may answer. */
export const SERVICE_UNAVAILABLE = {
  status: 503,
  contentType: 'text/plain',
  body: 'Service Unavailable',
};

/** The Route53 operation a request is (by method and path), for deciding faults. */
export function route53Operation(method: string, path: string): string {
  const p = path.split('?')[0]!;
  if (p.endsWith('/rrset') || p.endsWith('/rrset/')) {
    return method === 'POST' ? 'ChangeResourceRecordSets' : 'ListResourceRecordSets';
  }
  if (p.endsWith('/hostedzone')) return 'ListHostedZones';
  if (p.includes('/tags/')) return 'ListTagsForResources';
  return 'other';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A running fault proxy: its endpoint, what it saw, and how to close it. */
export interface FaultProxy {
  endpoint: string;
  seen: Array<ProxiedRequest & { fault?: number; upstream?: number }>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of `target` (e.g. moto) that asks `decide` about each
 * request: pass it on, answer an error instead, or answer an error after forwarding (the
 * change landed but the reply was lost). For throttling and outage tests. A `decide` that
 * returns a promise holds the request until it settles: a stalled service.
 */
export async function startFaultProxy(
  target: string,
  decide: (req: ProxiedRequest) => Fault | Promise<Fault>,
): Promise<FaultProxy> {
  const seen: Array<ProxiedRequest & { fault?: number; upstream?: number }> = [];
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const body = await readBody(req);
    const info = {
      n: seen.length,
      method,
      path,
      body: body.toString('utf8'),
      operation: route53Operation(method, path),
    };
    const entry: (typeof seen)[number] = { ...info };
    seen.push(entry);
    const fault = await decide(info);
    const forwarded = !fault || !!fault.afterForward;
    if (fault) entry.fault = fault.status;
    try {
      let upstream: Response | undefined;
      if (forwarded) {
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) {
          if (['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) continue;
          if (typeof v === 'string') headers.set(k, v);
        }
        upstream = await fetch(`${target}${path}`, {
          method,
          headers,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
        });
        entry.upstream = upstream.status;
      }
      if (fault) {
        await upstream?.arrayBuffer();
        res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'text/plain' });
        res.end(fault.body);
        return;
      }
      const payload = Buffer.from(await upstream!.arrayBuffer());
      res.writeHead(upstream!.status, {
        'content-type': upstream!.headers.get('content-type') ?? 'text/xml',
      });
      res.end(payload);
    } catch (err) {
      res.writeHead(502);
      res.end(String(err));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Held requests included: a stalled service is gone with the proxy.
        server.closeAllConnections();
      }),
  };
}
