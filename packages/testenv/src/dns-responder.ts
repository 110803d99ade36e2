import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import * as packet from 'dns-packet';
import { readDnsMessages } from './dns-stream.js';
import { freePort } from './ports.js';

/**
 * What a name holds: the record values of a type (TXT as the text itself, split into
 * 255-byte strings on the wire), `[]` for a name without that type, undefined for no such
 * name (NXDOMAIN).
 */
export type Answerer = (name: string, type: string) => Promise<string[] | undefined>;

/** A DNS server answering from a function: a stand-in for a service's own nameservers. */
export interface DnsResponder {
  host: string;
  port: number;
  /** `127.0.0.1:PORT` */
  address: string;
  stop(): Promise<void>;
}

function txt(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

async function reply(query: Buffer, answer: Answerer): Promise<Buffer> {
  const q = packet.decode(query);
  const question = q.questions?.[0];
  const base = { id: q.id, type: 'response' as const, questions: q.questions ?? [] };
  if (!question) return packet.encode({ ...base, flags: packet.AUTHORITATIVE_ANSWER | 1 });
  const name = question.name.toLowerCase().replace(/\.$/, '');
  const values = await answer(name, question.type).catch(() => null);
  // SERVFAIL when the function failed, NXDOMAIN for no such name.
  const rcode = values === null ? 2 : values === undefined ? 3 : 0;
  const answers = (values ?? []).map(
    (v): packet.Answer =>
      question.type === 'TXT'
        ? { type: 'TXT', name: question.name, ttl: 0, data: txt(v) }
        : ({ type: question.type, name: question.name, ttl: 0, data: v } as packet.Answer),
  );
  return packet.encode({ ...base, flags: packet.AUTHORITATIVE_ANSWER | rcode, answers });
}

/**
 * Starts an authoritative DNS server on a free loopback port (UDP and TCP) that answers
 * each question by calling `answer`, e.g. from a DNS provider's API (moto's Route53 zones,
 * an in-memory provider), so an ACME server can validate DNS-01 records written there.
 */
export async function startDnsResponder(answer: Answerer): Promise<DnsResponder> {
  const port = await freePort(true);
  const udp = createSocket('udp4');
  udp.on('message', (msg, from) => {
    void reply(msg, answer).then(
      (out) => udp.send(out, from.port, from.address),
      () => {},
    );
  });
  udp.bind(port, '127.0.0.1');
  await once(udp, 'listening');
  const streams = new Set<Socket>();
  const tcp = createServer((socket) => {
    streams.add(socket);
    socket.on('close', () => streams.delete(socket));
    socket.on('error', () => socket.destroy());
    readDnsMessages(socket, (msg) => {
      void reply(msg, answer).then(
        (out) => {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          socket.write(Buffer.concat([len, out]));
        },
        () => socket.destroy(),
      );
    });
  });
  tcp.listen(port, '127.0.0.1');
  await once(tcp, 'listening');
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    stop: async () => {
      for (const s of streams) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => tcp.close(() => resolve())),
        new Promise<void>((resolve) => udp.close(() => resolve())),
      ]);
    },
  };
}
