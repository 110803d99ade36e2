// SIGTERM to the operator's own process, as Kubernetes sends it, in the phases where a
// shutdown used to hang: a cold start over thousands of objects, and a provider call that
// never returns. The process must exit 0 within the grace period, each part saying stopped.
import { fileURLToPath } from 'node:url';
import { Client, Ingresses } from '@chousei/runtime';
import {
  type Bind9,
  type FaultProxy,
  type Moto,
  type OperatorProcess,
  startBind9,
  startFaultProxy,
  startMoto,
  startOperatorProcess,
} from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const operatorDir = fileURLToPath(new URL('..', import.meta.url));
/** --graceful-shutdown-timeout's default, as docs/dns-operator.md documents it. */
const GRACE_MS = 30_000;
const INGRESSES = 5000;

/** SIGTERM, then what a user checks: the exit code, the time, and who said stopped. */
async function terminate(op: OperatorProcess) {
  const { code, ms } = await op.terminate(GRACE_MS * 2);
  const stopped = op.lines
    .filter((l) => l.msg === 'stopped')
    .map((l) => (typeof l.controller === 'string' ? l.controller : 'manager'))
    .sort();
  return { code, withinGrace: ms < GRACE_MS, stopped, ms };
}

describe('finding 5: SIGTERM stops the operator within its grace period in every phase', () => {
  let client: Client;
  let kubeconfig: string;
  let bind: Bind9;
  let moto: Moto;
  let proxy: FaultProxy;
  /** While set, the fault proxy holds every ChangeResourceRecordSets: a stalled Route53. */
  let stall = false;
  let coldNs: string;
  let heldNs: string;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    [coldNs, heldNs] = [
      await cluster.createNamespace('cold'),
      await cluster.createNamespace('held'),
    ];
    kubeconfig = await cluster.writeKubeconfig(await operatorKubeConfig(), `kubeconfig-${coldNs}`);
    [bind, moto] = await Promise.all([startBind9({ zones: ['cold.test'] }), startMoto()]);
    proxy = await startFaultProxy(moto.endpoint, (req) =>
      stall && req.operation === 'ChangeResourceRecordSets' ? new Promise(() => {}) : undefined,
    );
    // A few thousand Ingresses, 16 at a time: a cluster the operator meets cold.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < INGRESSES; i = next++) {
          await client.create(Ingresses, {
            metadata: {
              name: `app-${i}`,
              namespace: coldNs,
              annotations: { 'dns.chousei.dev/target': '192.0.2.10' },
            },
            spec: { rules: [{ host: `app-${i}.cold.test` }] },
          });
        }
      }),
    );
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([bind?.stop(), moto?.stop()]);
  });

  const rfc2136 = () =>
    startOperatorProcess({
      operatorDir,
      args: [
        '--provider=rfc2136',
        `--rfc2136-host=${bind.host}`,
        `--rfc2136-port=${bind.port}`,
        '--rfc2136-zone=cold.test',
        `--rfc2136-tsig-keyname=${bind.tsig.name}`,
        `--namespace=${coldNs}`,
        '--source=ingress',
        `--kubeconfig=${kubeconfig}`,
      ],
      env: { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret },
    });

  it('during the initial list of 5000 Ingresses', async () => {
    const op = await rfc2136();
    // The informers list as soon as the servers listen.
    await op.waitForLog((l) => l.msg === 'serving probes and metrics');
    expect(await terminate(op)).toMatchObject({
      code: 0,
      withinGrace: true,
      stopped: ['dns-ingress', 'dns-names', 'manager'],
    });
  });

  it('during the cold start that follows: 5000 names, finalizers and Events at once', async () => {
    const op = await rfc2136();
    await op.waitForLog((l) => l.msg === 'full resync queued', 60_000);
    // Well into it: 2000 records out, as many Published Events and the finalizers queued.
    const applied = async () =>
      Number(
        /^chousei_dns_plan_changes_total\{action="create",result="applied"\} (\d+)$/m.exec(
          await op.metrics(),
        )?.[1] ?? 0,
      );
    await expect.poll(applied, { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(2000);
    expect(await terminate(op)).toMatchObject({
      code: 0,
      withinGrace: true,
      stopped: ['dns-ingress', 'dns-names', 'manager'],
    });
  }, 120_000);

  it('during a provider call that never returns (Route53 holding a change)', async () => {
    const zoneId = await moto.createHostedZone('held.test');
    const op = await startOperatorProcess({
      operatorDir,
      args: [
        '--provider=route53',
        `--aws-endpoint=${proxy.endpoint}`,
        `--zone-id-filter=${zoneId}`,
        `--namespace=${heldNs}`,
        '--source=ingress',
        `--kubeconfig=${kubeconfig}`,
      ],
      env: {
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        AWS_REGION: moto.region,
      },
    });
    const ingress = (name: string) =>
      client.create(Ingresses, {
        metadata: {
          name,
          namespace: heldNs,
          annotations: { 'dns.chousei.dev/target': '192.0.2.20' },
        },
        spec: { rules: [{ host: `${name}.held.test` }] },
      });
    await ingress('first');
    const published = async (name: string) =>
      (await moto.listRecords(zoneId)).some((r) => r.Name === `${name}.held.test.`);
    await expect.poll(() => published('first'), { timeout: 20_000 }).toBe(true);

    stall = true;
    const before = proxy.seen.length;
    await ingress('second');
    await expect
      .poll(
        () => proxy.seen.slice(before).some((r) => r.operation === 'ChangeResourceRecordSets'),
        { timeout: 20_000 },
      )
      .toBe(true);
    const stopped = await terminate(op);
    stall = false;
    expect(stopped).toMatchObject({
      code: 0,
      withinGrace: true,
      stopped: ['dns-ingress', 'dns-names', 'manager'],
    });
    // The held reconcile was cancelled at the end of its share of the grace period.
    expect(op.lines.some((l) => l.msg === 'reconcile cancelled: stopping')).toBe(true);
  }, 120_000);
});
