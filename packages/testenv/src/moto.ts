import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';
import { motoServer } from './tools.js';

/** A running moto server: an AWS API (Route53 among others) on loopback. */
export interface Moto {
  /** `http://127.0.0.1:PORT`: the endpoint for AWS SDK clients. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A Route53 client for this server (not rate limited; for test setup and checks). */
  route53: Route53Client;
  /** Creates a hosted zone and returns its id. */
  createHostedZone(name: string): Promise<string>;
  /** Every record set of a hosted zone, all pages, as Route53 returns them. */
  listRecords(zoneId: string): Promise<ResourceRecordSet[]>;
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
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const route53 = new Route53Client({ region, endpoint, credentials });
  return {
    endpoint,
    region,
    credentials,
    route53,
    createHostedZone: async (name) => {
      const zone = await route53.send(
        new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }),
      );
      return zone.HostedZone!.Id!;
    },
    listRecords: async (zoneId) => {
      const out: ResourceRecordSet[] = [];
      let start: { StartRecordName?: string; StartRecordType?: ResourceRecordSet['Type'] } = {};
      for (;;) {
        const page = await route53.send(
          new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...start }),
        );
        out.push(...(page.ResourceRecordSets ?? []));
        if (!page.IsTruncated) return out;
        start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType };
      }
    },
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset: HTTP ${res.status}`);
    },
    stopServer: async () => {
      await proc?.stop();
    },
    startServer,
    stop: async () => {
      route53.destroy();
      await proc?.stop();
    },
  };
}
