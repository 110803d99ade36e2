import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    if (low > LOWEST + 1000) return low;
  } catch {
    // Not Linux: its default.
  }
  return 32768;
}

/** Below the registered ports most daemons use by default (and above X11's 6000-6063). */
const LOWEST = 10_000;
/**
 * Ports are drawn below the ephemeral range: a port the kernel hands to bind(0) or to an
 * outgoing connection could be taken between this probe and the caller's listen. Drawn at
 * random, so parallel test processes rarely draw the same one.
 */
const HIGHEST = ephemeralLow() - 1;
/** Ports already handed out by this process: a probe cannot tell it is still to be bound. */
const handedOut = new Set<number>();

/**
 * A loopback port free right now for TCP (and for UDP too when `udp` is set), never one
 * this process was given before, and outside the range the kernel assigns by itself.
 */
export async function freePort(udp = false): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (handedOut.has(port)) continue;
    if ((await tcpFree(port)) && (!udp || (await udpFree(port)))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port found between ${LOWEST} and ${HIGHEST}`);
}
