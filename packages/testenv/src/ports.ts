import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

function tcpFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/**
 * Ports already handed out by this process. The kernel may offer a port again once its probe
 * socket closed, before the first caller's server listens on it: two servers of one test
 * world (etcd and a solver) were once given the same port.
 */
const handedOut = new Set<number>();

/**
 * A loopback port free right now for TCP (and for UDP too when `udp` is set), and never one
 * this process was given before.
 */
export async function freePort(udp = false): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await tcpFree(0);
    if (handedOut.has(port)) continue;
    if (!udp || (await udpFree(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port found for TCP and UDP');
}
