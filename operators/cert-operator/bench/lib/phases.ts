// The cert benchmark's phases: an operator process started as the image runs it, an issuer
// waited for, Certificates created at once and waited for until Ready, and the two runs
// that each have an operator of their own (DNS-01 on BIND9, memory on a CA issuer).

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, Secrets } from '@chousei/runtime';
import {
  type Bind9,
  createCA,
  type OperatorProcess,
  type Pebble,
  pool,
  startOperatorProcess,
  sumMetric,
} from '@chousei/testenv';
import { type Certificate, Certificates, type Issuer, Issuers } from '../../dist/index.js';

export interface PhaseOptions {
  client: Client;
  operatorDir: string;
  kubeconfig: string;
  resourceNs: string;
  /** Where Pebble validates HTTP-01 (the solver listens there). */
  solverPort: number;
  bind: Bind9;
  pebble: Pick<Pebble, 'directoryUrl' | 'tlsCaPem'>;
  zone: string;
  extraNodeFlags: string[];
  issueTimeoutMs: number;
}

export interface Issued {
  createSeconds: number;
  readyCount: number;
  /** Seconds from the last create to all Ready (null when not all were). */
  issueSeconds: number | null;
  /** Seconds from the last create to each Ready, ascending. */
  readyAt: number[];
}

export type CertPhases = ReturnType<typeof certPhases>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const isReady = (c: { status?: Certificate['status'] }) =>
  c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;

export function certPhases(o: PhaseOptions) {
  const { client } = o;
  const flags = [
    '--kubeconfig',
    o.kubeconfig,
    '--cluster-resource-namespace',
    o.resourceNs,
    '--http01-solver-port',
    String(o.solverPort),
    // The self-check looks where Pebble does.
    '--http01-self-check-port',
    String(o.solverPort),
    '--http01-self-check-nameservers',
    o.bind.address,
    '--concurrency',
    '50',
    '--log-level',
    'warn',
  ];

  /** The operator as its image runs it (its ENTRYPOINT's Node flags), once ready. */
  const start = async (logFile?: string): Promise<OperatorProcess> => {
    const op = await startOperatorProcess({
      operatorDir: o.operatorDir,
      name: 'cert-operator',
      args: flags,
      extraNodeFlags: o.extraNodeFlags,
      ...(logFile ? { logFile } : {}),
    });
    await op.waitUntilReady(60_000);
    return op;
  };

  const issuerReady = async (ns: string, name: string): Promise<void> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const issuer = await client.get(Issuers, { namespace: ns, name });
      const ready = issuer.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return;
      if (Date.now() > deadline)
        throw new Error(`Issuer not Ready: ${JSON.stringify(issuer.status)}`);
      await sleep(100);
    }
  };

  const readyIn = async (ns: string) =>
    (await client.list(Certificates, { namespace: ns })).filter(isReady).length;

  /** `n` Certificates `cert-I` (from `from`) at once; the clock starts at the last create. */
  const issue = async (ns: string, issuer: string, n: number, from = 0): Promise<Issued> => {
    console.log(`creating ${n} Certificates in ${ns}...`);
    const createStart = performance.now();
    await pool(
      Array.from({ length: n }, (_, i) => from + i),
      64,
      (i) =>
        client.create(Certificates, {
          metadata: { name: `cert-${i}`, namespace: ns },
          spec: {
            secretName: `cert-${i}-tls`,
            issuerRef: { name: issuer },
            dnsNames: [`c${i}.${o.zone}`],
          },
        } satisfies Certificate),
    );
    const issueStart = performance.now();
    const readyAt: number[] = [];
    let readyCount = 0;
    let lastPrint = 0;
    const want = from + n;
    for (;;) {
      const now = performance.now();
      const count = await readyIn(ns);
      for (let i = readyCount; i < count; i++) readyAt.push((now - issueStart) / 1000);
      readyCount = count;
      if (readyCount >= want || now - issueStart > o.issueTimeoutMs) break;
      if (now - lastPrint > 5000) {
        lastPrint = now;
        console.log(`  ${((now - issueStart) / 1000).toFixed(0)} s: ${readyCount} Ready`);
      }
      await sleep(200);
    }
    const issueSeconds = (performance.now() - issueStart) / 1000;
    console.log(
      readyCount >= want
        ? `all ${want} Ready, ${n} in ${issueSeconds.toFixed(1)} s`
        : `only ${readyCount}/${want} Ready after ${issueSeconds.toFixed(0)} s`,
    );
    return {
      createSeconds: round((issueStart - createStart) / 1000),
      readyCount: readyCount - from,
      issueSeconds: readyCount >= want ? round(issueSeconds) : null,
      readyAt,
    };
  };

  /** An issuer of `ns`, once Ready. */
  const issuer = async (ns: string, name: string, spec: Issuer['spec']) => {
    await client.create(Issuers, { metadata: { name, namespace: ns }, spec });
    await issuerReady(ns, name);
  };

  /**
   * 200 Certificates over DNS-01 on BIND9 at --concurrency 50 (Pebble resolves at BIND9):
   * how many become Ready, how soon, how many zone reads, and the idle RSS after.
   */
  const dns01 = async (ns: string, n: number) => {
    const op = await start();
    try {
      await client.create(Secrets, {
        metadata: { name: 'tsig', namespace: ns },
        stringData: { secret: o.bind.tsig.secret },
      });
      await issuer(ns, 'dns01', {
        acme: {
          server: o.pebble.directoryUrl,
          email: 'ops@example.test',
          privateKeySecretRef: { name: 'dns01-account' },
          caBundle: Buffer.from(o.pebble.tlsCaPem).toString('base64'),
          solvers: [
            {
              selector: { dnsZones: [o.zone] },
              dns01: {
                rfc2136: {
                  nameserver: o.bind.address,
                  tsigKeyName: o.bind.tsig.name,
                  tsigAlgorithm: o.bind.tsig.algorithm
                    .toUpperCase()
                    .replace('-', '') as 'HMACSHA256',
                  tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
                },
              },
            },
          ],
        },
      });
      const reads = async () =>
        sumMetric(await op.metricSamples(), 'chousei_dns_provider_requests_total', {
          operation: 'axfr',
        });
      const readsBefore = await reads();
      const issued = await issue(ns, 'dns01', n);
      const idle = await op.idleRss({ activity: ['chousei_cert_acme_requests_total'] });
      console.log(`DNS-01: idle RSS ${idle.samplesMb.join(', ')} MB`);
      return {
        readyCount: issued.readyCount,
        issueSeconds: issued.issueSeconds,
        zoneReads: (await reads()) - readsBefore,
        idleMb: round(idle.medianMb, 1),
      };
    } finally {
      await op.terminate(30_000);
    }
  };

  /**
   * Idle RSS with `first` Certificates of a CA issuer, then with three times as many: as the
   * other idle figures (3 s without activity), and settled (20 s without), past the
   * collection V8's memory reducer may make about 10 s after allocation stops.
   */
  const caScale = async (ns: string, first: number) => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-ca-'));
    const ca = await createCA(dir, 'bench-ca');
    await client.create(Secrets, {
      metadata: { name: 'bench-ca', namespace: ns },
      type: 'kubernetes.io/tls',
      stringData: {
        'tls.crt': ca.certPem,
        'tls.key': ca.keyPem,
      },
    });
    const op = await start();
    try {
      await issuer(ns, 'ca', { ca: { secretName: 'bench-ca' } });
      const idleWith = async (label: string) => {
        const idle = await op.idleRss();
        const settled = await op.idleRss({ quietMs: 20_000 });
        console.log(
          `${label}: idle RSS ${idle.samplesMb.join(', ')} MB; settled ${settled.samplesMb.join(', ')} MB`,
        );
        return { idle: idle.medianMb, settled: settled.medianMb };
      };
      await issue(ns, 'ca', first);
      const one = await idleWith(`${first} CA Certificates`);
      await issue(ns, 'ca', 2 * first, first);
      const three = await idleWith(`${3 * first} CA Certificates`);
      const perThousand = (a: number, b: number) => round(((b - a) / (2 * first)) * 1000, 1);
      return {
        first,
        second: 3 * first,
        idleMb: [round(one.idle, 1), round(three.idle, 1)],
        perThousandMb: perThousand(one.idle, three.idle),
        settledMb: [round(one.settled, 1), round(three.settled, 1)],
        perThousandSettledMb: perThousand(one.settled, three.settled),
      };
    } finally {
      await op.terminate(30_000);
    }
  };

  return { flags, start, issuerReady, readyIn, issue, dns01, caScale };
}
