import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

/** An HTTP proxy on loopback that tunnels CONNECT requests, and remembers them. */
export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, as a kubeconfig's proxy-url names it. */
  url: string;
  /** The `host:port` of each CONNECT, in order. */
  connects: string[];
  stop(): Promise<void>;
}

/** Starts a CONNECT-only proxy (as squid or a corporate proxy would tunnel HTTPS). */
export async function startConnectProxy(): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end('CONNECT only\n'));
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    const at = target.lastIndexOf(':');
    const upstream = connect(
      Number(target.slice(at + 1)),
      target.slice(0, at).replace(/^\[|\]$/g, ''),
    );
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
