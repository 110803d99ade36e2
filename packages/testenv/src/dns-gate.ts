import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { readDnsMessages } from './dns-stream.js';
import { freePort } from './ports.js';

/** A DNS message the gate saw: its first question, and whether it was held. */
export interface GatedQuery {
  /** Lowercase, without the trailing dot. */
  name: string;
  /** `A`, `TXT`, `SOA`, ... or `TYPE<n>` for the rest. */
  type: string;
  /** 0 QUERY, 5 UPDATE (RFC 2136). */
  opcode: number;
  held: boolean;
  at: number;
}

/** A DNS forwarder in front of a server that can hold back chosen queries. */
export interface DnsGate {
  host: string;
  port: number;
  /** `127.0.0.1:PORT` */
  address: string;
  /** Every message seen, over UDP or TCP, in order. */
  queries: GatedQuery[];
  /**
   * From now on, UDP queries `match` accepts get no answer: clients time out and ask again,
   * as they do of a server slow to catch up. Everything else passes.
   */
  hold(match: (q: GatedQuery) => boolean): void;
  /** Answers every query again. */
  release(): void;
  /**
   * From now on, UDP queries `match` accepts are first answered with `forged(message)`, as
   * by an attacker who guessed the client's port and ID; the query still goes to the server,
   * whose own answer follows. `match` is asked once per query.
   */
  forge(match: (q: GatedQuery) => boolean, forged: (message: Buffer) => Buffer): void;
  stop(): Promise<void>;
}

const TYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  252: 'AXFR',
  255: 'ANY',
};

/** The first question of a DNS message (RFC 1035 4.1), or undefined when unreadable. */
function firstQuestion(msg: Buffer): Omit<GatedQuery, 'held' | 'at'> | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) === 0) return undefined;
  const labels: string[] = [];
  let i = 12;
  for (;;) {
    const len = msg[i];
    // Questions are not compressed in practice; a pointer or a cut message ends the parse.
    if (len === undefined || len > 63) return undefined;
    i++;
    if (len === 0) break;
    labels.push(
      msg
        .subarray(i, i + len)
        .toString('latin1')
        .toLowerCase(),
    );
    i += len;
  }
  if (i + 2 > msg.length) return undefined;
  const type = msg.readUInt16BE(i);
  return {
    name: labels.join('.'),
    type: TYPES[type] ?? `TYPE${type}`,
    opcode: ((msg[2] ?? 0) >> 3) & 0xf,
  };
}

/**
 * Starts a DNS forwarder on a free loopback port (UDP and TCP) in front of `upstream`.
 * Messages go through byte for byte, so TSIG-signed updates stay valid. Only UDP queries
 * can be held; TCP (zone transfers, large updates, Pebble's lookups) is passed through as a
 * stream, its messages recorded as they go by.
 */
export async function startDnsGate(upstream: { host: string; port: number }): Promise<DnsGate> {
  const port = await freePort(true);
  const queries: GatedQuery[] = [];
  let held: ((q: GatedQuery) => boolean) | undefined;
  let forger: { match: (q: GatedQuery) => boolean; forged: (m: Buffer) => Buffer } | undefined;
  const pending = new Set<Socket>();
  const streams = new Set<TcpSocket>();

  const udp = createSocket('udp4');
  udp.on('message', (msg, from) => {
    const question = firstQuestion(msg);
    const q = question && { ...question, held: false, at: Date.now() };
    if (q) {
      q.held = !!held?.(q);
      queries.push(q);
      if (q.held) return;
      if (forger?.match(q)) udp.send(forger.forged(msg), from.port, from.address);
    }
    const out = createSocket('udp4');
    pending.add(out);
    const done = () => {
      clearTimeout(timer);
      if (pending.delete(out)) out.close();
    };
    const timer = setTimeout(done, 10_000);
    out.on('error', done);
    out.once('message', (reply) => {
      done();
      udp.send(reply, from.port, from.address);
    });
    out.send(msg, upstream.port, upstream.host);
  });
  udp.bind(port, '127.0.0.1');
  await once(udp, 'listening');

  const tcp = createServer((client) => {
    const server = connect(upstream.port, upstream.host);
    readDnsMessages(client, (msg) => {
      const question = firstQuestion(msg);
      if (question) queries.push({ ...question, held: false, at: Date.now() });
    });
    for (const s of [client, server]) {
      streams.add(s);
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
      s.on('close', () => streams.delete(s));
    }
    client.pipe(server).pipe(client);
  });
  tcp.listen(port, '127.0.0.1');
  await once(tcp, 'listening');

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    queries,
    hold: (match) => {
      held = match;
    },
    release: () => {
      held = undefined;
    },
    forge: (match, forged) => {
      forger = { match, forged };
    },
    stop: async () => {
      for (const s of pending) s.close();
      pending.clear();
      for (const s of streams) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}
