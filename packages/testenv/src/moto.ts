import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';
import { motoServer } from './tools.js';

/** A running moto server: an AWS API (Route53 among others) on loopback. */
export interface Moto {
  /** `http://127.0.0.1:PORT`: the endpoint for AWS SDK clients. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Drops every resource (hosted zones, records). */
  reset(): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `moto_server` (PyPI `moto[server]`) on a free loopback port. */
export async function startMoto(): Promise<Moto> {
  const bin = motoServer();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ServerProcess | undefined;
  const startServer = async () => {
    proc = new ServerProcess({
      name: 'moto',
      command: bin,
      args: ['-H', '127.0.0.1', '-p', String(port)],
    });
    await waitUntilReady(proc, async () => (await fetch(`${endpoint}/moto-api/`)).ok, 30_000);
  };
  await startServer();
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset: HTTP ${res.status}`);
    },
    stopServer: async () => {
      await proc?.stop();
    },
    startServer,
    stop: async () => {
      await proc?.stop();
    },
  };
}
