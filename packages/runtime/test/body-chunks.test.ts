import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bodyChunks } from '../src/client/transport.js';

let close: (() => void) | undefined;
afterEach(() => close?.());

/** A response from a local server that answers with `serve`. */
async function responseOf(serve: (res: ServerResponse) => void): Promise<IncomingMessage> {
  const server = createServer((_, res) => serve(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  close = () => {
    server.closeAllConnections();
    server.close();
  };
  const { port } = server.address() as AddressInfo;
  const req = get(`http://127.0.0.1:${port}/`);
  // A response destroyed with an error fails its request too; the body's reader reports it.
  req.on('error', () => undefined);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  return res;
}

async function read(res: IncomingMessage, idleMs: number): Promise<string> {
  let body = '';
  for await (const chunk of bodyChunks(res, idleMs, () => new Error('stalled'))) body += chunk;
  return body;
}

describe('bodyChunks', () => {
  it('decodes characters split across chunks', async () => {
    const res = await responseOf((r) => {
      const bytes = Buffer.from('調整');
      r.write(bytes.subarray(0, 2));
      setTimeout(() => r.end(bytes.subarray(2)), 20);
    });
    expect(await read(res, 1000)).toBe('調整');
  });

  it('throws the stall error when the body goes silent after the head', async () => {
    const res = await responseOf((r) => {
      r.writeHead(200);
      r.write('{"partial":');
    });
    const started = Date.now();
    await expect(read(res, 200)).rejects.toThrow('stalled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('keeps a slow body alive as long as bytes keep coming', async () => {
    const res = await responseOf((r) => {
      let sent = 0;
      const tick = setInterval(() => {
        r.write('x');
        if (++sent === 5) {
          clearInterval(tick);
          r.end();
        }
      }, 100);
    });
    expect(await read(res, 250)).toBe('xxxxx');
  });
});
