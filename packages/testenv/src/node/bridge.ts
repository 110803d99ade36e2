// Connections between the host and a node's network namespace, without a route or an
// interface in the host's: Unix sockets (files, so both sides reach them) carry HTTP
// CONNECT, as kube-apiserver's egress selector speaks it. A proxy on each side dials in its
// own namespace; a forward listens on one side and dials through the other side's proxy.
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** `host:port`, parsed. */
export interface HostPort {
  host: string;
  port: number;
}

export const hostPort = (text: string): HostPort => {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i < 1 || !Number.isInteger(port)) throw new Error(`not host:port: ${text}`);
  return { host: text.slice(0, i), port };
};

const HEADER_END = '\r\n\r\n';

/** Reads an HTTP head (up to the blank line) off a socket; the bytes after it go back. */
function readHead(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        if (buf.length > 8192) done(new Error('HTTP head over 8 KiB'));
        return;
      }
      done();
      const rest = buf.subarray(end + HEADER_END.length);
      if (rest.length) socket.unshift(rest);
      resolve(buf.subarray(0, end).toString('latin1'));
    };
    const onEnd = () => done(new Error('connection closed before the HTTP head ended'));
    const done = (err?: Error) => {
      socket.off('data', onData).off('error', done).off('end', onEnd);
      if (err) reject(err);
    };
    socket.on('data', onData).on('error', done).on('end', onEnd);
  });
}

/** Joins two sockets both ways; either closing or failing closes the other. */
export function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

/**
 * An HTTP CONNECT proxy on a Unix socket, dialing in this process's network namespace the
 * targets `allow` accepts (403 for the rest, 502 when the dial fails).
 */
export async function serveConnect(
  socketPath: string,
  allow: (target: HostPort) => boolean,
): Promise<Server> {
  await rm(socketPath, { force: true });
  // Half-open: a client that has sent all it will send still gets the whole answer.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => client.destroy());
    readHead(client).then(
      (head) => {
        const m = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(`${head}\r\n`);
        let target: HostPort | undefined;
        try {
          target = m?.[1] ? hostPort(m[1]) : undefined;
        } catch {}
        if (!target) return void client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        if (!allow(target)) return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
        upstream.once('error', (err) => {
          client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\n${err.message}`);
        });
        upstream.once('connect', () => {
          upstream.removeAllListeners('error');
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          splice(client, upstream);
        });
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(socketPath, () => resolve());
  });
  return server;
}

/** A connection to `target` through the CONNECT proxy on `socketPath`. */
export async function connectVia(socketPath: string, target: HostPort): Promise<Socket> {
  const socket = connect({ path: socketPath, allowHalfOpen: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    socket.write(`CONNECT ${target.host}:${target.port} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`);
    const head = await readHead(socket);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (status !== '200') {
      throw new Error(`CONNECT ${target.host}:${target.port} via ${socketPath}: ${head}`);
    }
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** A TCP listener on `listen` whose connections go to `target` through the proxy `via`. */
export async function forwardTcp(listen: HostPort, via: string, target: HostPort): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.pause();
    client.on('error', () => client.destroy());
    connectVia(via, target).then(
      (upstream) => {
        splice(client, upstream);
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

/**
 * A DNS listener on UDP `listen` that asks `target` over TCP through the proxy `via`, one
 * connection per query: DNS over TCP is the same message behind a two-byte length, so
 * updates and their TSIG signatures pass unchanged. (Answers over 64 KiB do not occur here.)
 */
export async function forwardDns(
  listen: HostPort,
  via: string,
  target: HostPort,
): Promise<{ close(): void }> {
  const udp = createSocket('udp4');
  udp.on('message', (query, from) => {
    void connectVia(via, target)
      .then(async (tcp) => {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(query.length);
        tcp.write(Buffer.concat([length, query]));
        let answer = Buffer.alloc(0);
        for await (const c of tcp) {
          answer = Buffer.concat([answer, c as Buffer]);
          const size = answer.length >= 2 ? answer.readUInt16BE(0) : -1;
          if (size >= 0 && answer.length >= size + 2) {
            udp.send(answer.subarray(2, 2 + size), from.port, from.address);
            break;
          }
        }
        tcp.destroy();
      })
      .catch(() => {}); // No answer: the client retries, as over a lossy network.
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject).bind(listen.port, listen.host, () => resolve());
  });
  return { close: () => udp.close() };
}
