import { fileURLToPath } from 'node:url';
import { Client, Events, Ingresses } from '@chousei/runtime';
import {
  type Bind9,
  type Moto,
  type OperatorProcess,
  startBind9,
  startMoto,
  startOperatorProcess,
} from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DNSEndpoints, dnsEndpointCRD } from '../src/api/dnsendpoint.js';
import { runOperator as run, runOperator } from './command.js';

const operatorDir = fileURLToPath(new URL('..', import.meta.url));

describe('chousei-dns-operator command', () => {
  let bind: Bind9;
  let args: string[];
  let env: Record<string, string>;
  let client: Client;
  let ns: string;

  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
    const cluster = await sharedCluster();
    ns = await cluster.createNamespace('cli');
    client = new Client(cluster.kubeConfig);
    await client.create(Ingresses, {
      metadata: {
        name: 'web',
        namespace: ns,
        annotations: { 'dns.chousei.dev/target': '192.0.2.80' },
      },
      spec: { rules: [{ host: 'cli.example.test' }] },
    });
    const kubeconfig = await cluster.writeKubeconfig(
      await operatorKubeConfig(),
      `kubeconfig-${ns}`,
    );
    args = [
      '--provider',
      'rfc2136',
      '--rfc2136-host',
      bind.host,
      '--rfc2136-port',
      String(bind.port),
      '--rfc2136-zone',
      'example.test',
      '--rfc2136-tsig-keyname',
      bind.tsig.name,
      '--namespace',
      ns,
      '--source',
      'ingress',
      '--kubeconfig',
      kubeconfig,
      '--once',
    ];
    // Secrets come from the environment, as in a Deployment.
    env = { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret, CHOUSEI_DNS_TXT_OWNER_ID: 'cli' };
  });
  afterAll(() => bind?.stop());

  it('logs the plan with --dry-run and changes nothing', async () => {
    const r = await run([...args, '--dry-run'], env);
    expect(r.code).toBe(0);
    const planned = r.stdout.split('\n').filter((l) => l.includes('dry run: would change'));
    expect(planned.join('\n')).toContain('"name":"cli.example.test"');
    expect(planned.join('\n')).toContain('"name":"a-cli.example.test"');
    expect(await bind.dig('cli.example.test', 'A')).toEqual([]);
    // Nor does it tell anyone it published: no Event claims a change that was not made.
    expect(await client.list(Events, { namespace: ns })).toEqual([]);
  });

  it('publishes every name once with --once and exits 0', async () => {
    const r = await run(args, env);
    expect(r.code).toBe(0);
    expect(await bind.dig('cli.example.test', 'A')).toEqual(['192.0.2.80']);
    // Nothing stays running to release a finalizer: a one-shot run adds none.
    const ingress = await client.get(Ingresses, { namespace: ns, name: 'web' });
    expect(ingress.metadata?.finalizers ?? []).toEqual([]);
  });

  it('refuses invalid configuration at start with one clear message', async () => {
    const r = await run(['--provider', 'rfc2136', '--rfc2136-zone', 'example.test']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'chousei-dns-operator: invalid configuration: --rfc2136-host (CHOUSEI_DNS_RFC2136_HOST) is required with --provider rfc2136',
    ]);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--rfc2136-tsig-secret');
  });
});

describe('finding 1: --provider route53 without --zone-id-filter', () => {
  let moto: Moto;
  let zoneId: string;
  let client: Client;
  let ns: string;
  let kubeconfig: string;
  const running: OperatorProcess[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    zoneId = await moto.createHostedZone('r53.test');
    const cluster = await sharedCluster();
    // As the chart installs it: the operator watches DNSEndpoints by default.
    await cluster.apply([dnsEndpointCRD]);
    ns = await cluster.createNamespace('r53cli');
    client = new Client(cluster.kubeConfig);
    kubeconfig = await cluster.writeKubeconfig(await operatorKubeConfig(), `kubeconfig-${ns}`);
  });
  afterEach(async () => {
    for (const op of running.splice(0)) await op.terminate();
  });
  afterAll(() => moto?.stop());

  /** The command as docs/dns-operator.md has it: the provider, AWS credentials and region. */
  const start = async (flags: string[]) => {
    const op = await startOperatorProcess({
      operatorDir,
      args: [
        '--provider=route53',
        // moto in place of the Route53 endpoint (AWS_ENDPOINT_URL works the same).
        `--aws-endpoint=${moto.endpoint}`,
        `--kubeconfig=${kubeconfig}`,
        `--namespace=${ns}`,
        ...flags,
      ],
      env: {
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        AWS_REGION: moto.region,
      },
    });
    running.push(op);
    await op.waitUntilReady();
    return op;
  };
  const gauge = async (op: OperatorProcess) =>
    Number(/^chousei_dns_zones (\d+)$/m.exec(await op.metrics())?.[1]);

  it('manages every hosted zone the credentials list, and publishes', async () => {
    const op = await start([]);
    await client.create(Ingresses, {
      metadata: {
        name: 'web',
        namespace: ns,
        annotations: { 'dns.chousei.dev/target': '192.0.2.53' },
      },
      spec: { rules: [{ host: 'web.r53.test' }] },
    });
    await expect
      .poll(
        async () =>
          (await moto.listRecords(zoneId)).find((r) => r.Name === 'web.r53.test.' && r.Type === 'A')
            ?.ResourceRecords,
        { timeout: 20_000 },
      )
      .toEqual([{ Value: '192.0.2.53' }]);
    expect(await gauge(op)).toBe(1);
    expect((await op.readyz()).body).toContain('[+]dns-zones ok: 1 zone managed');
  });

  it('says so loudly when no zone is left to manage: a warning at every read, a gauge at 0, /readyz', async () => {
    const op = await start(['--domain-filter=elsewhere.test', '--resync-interval=1s']);
    await op.waitForLog((l) => l.msg === 'no zone to manage: nothing will be published');
    // Again at the next resync: not a line lost among the start-up ones.
    await expect
      .poll(() => op.lines.filter((l) => l.msg.startsWith('no zone to manage')).length, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(2);
    const warning = op.lines.find((l) => l.msg.startsWith('no zone to manage'))!;
    expect(warning).toMatchObject({ level: 'warn', provider: 'route53', listed: [] });
    expect(await gauge(op)).toBe(0);
    // Ready (the process works; a probe failing would only restart it), and it names why.
    const ready = await op.readyz();
    expect(ready.status).toBe(200);
    expect(ready.body).toContain(
      '[+]dns-zones ok: no zone managed: nothing will be published (see the log)',
    );
  });
});

describe('difference 2: Route53 aliases as external-dns v0.22 makes them, A and AAAA, from every source', () => {
  let moto: Moto;
  let zoneId: string;
  let client: Client;
  let ns: string;
  let args: string[];
  let env: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    zoneId = await moto.createHostedZone('alias.test');
    const cluster = await sharedCluster();
    await cluster.apply([dnsEndpointCRD]);
    ns = await cluster.createNamespace('alias');
    client = new Client(cluster.kubeConfig);
    const kubeconfig = await cluster.writeKubeconfig(
      await operatorKubeConfig(),
      `kubeconfig-${ns}`,
    );
    args = [
      '--provider=route53',
      `--aws-endpoint=${moto.endpoint}`,
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${ns}`,
      '--txt-owner-id=alias',
      '--once',
    ];
    env = {
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      AWS_REGION: moto.region,
    };
    // An Ingress on a load balancer, no annotation: external-dns makes it an alias anyway.
    await client.create(Ingresses, {
      metadata: { name: 'shop', namespace: ns },
      spec: { rules: [{ host: 'shop.alias.test' }] },
    });
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name: 'shop' },
      {
        type: 'merge',
        patch: {
          status: {
            loadBalancer: { ingress: [{ hostname: 'shop-1.eu-west-1.elb.amazonaws.com' }] },
          },
        },
      },
    );
    await client.create(DNSEndpoints, {
      metadata: { name: 'records', namespace: ns },
      spec: {
        endpoints: [
          { dnsName: 'cdn.alias.test', recordType: 'CNAME', targets: ['d1.cloudfront.net'] },
          {
            dnsName: 'api.alias.test',
            recordType: 'CNAME',
            targets: ['abc.execute-api.us-east-1.amazonaws.com'],
          },
          {
            dnsName: 'plain.alias.test',
            recordType: 'CNAME',
            targets: ['d2.cloudfront.net'],
            providerSpecific: [{ name: 'alias', value: 'false' }],
          },
        ],
      },
    });
  });
  afterAll(() => moto?.stop());

  const published = async () =>
    (await moto.listRecords(zoneId))
      .filter((r) => r.Type !== 'TXT' && r.Type !== 'NS' && r.Type !== 'SOA')
      .map(
        (r) =>
          `${r.Name} ${r.Type} ${r.AliasTarget ? `alias ${r.AliasTarget.HostedZoneId} ${r.AliasTarget.DNSName}` : r.ResourceRecords?.map((v) => v.Value).join()}`,
      )
      .sort();

  it('makes an A and an AAAA alias of each CNAME to an AWS endpoint, each with its ownership TXT', async () => {
    const r = await runOperator(args, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await published()).toEqual([
      'api.alias.test. A alias Z1UJRXOUMOOFQ8 abc.execute-api.us-east-1.amazonaws.com.',
      'api.alias.test. AAAA alias Z1UJRXOUMOOFQ8 abc.execute-api.us-east-1.amazonaws.com.',
      'cdn.alias.test. A alias Z2FDTNDATAQYW2 d1.cloudfront.net.',
      'cdn.alias.test. AAAA alias Z2FDTNDATAQYW2 d1.cloudfront.net.',
      'plain.alias.test. CNAME d2.cloudfront.net.',
      'shop.alias.test. A alias Z32O12XQLNTSW2 shop-1.eu-west-1.elb.amazonaws.com.',
      'shop.alias.test. AAAA alias Z32O12XQLNTSW2 shop-1.eu-west-1.elb.amazonaws.com.',
    ]);
    const marks = (await moto.listRecords(zoneId))
      .filter((r) => r.Type === 'TXT')
      .map((r) => r.Name);
    expect(marks).toEqual(
      expect.arrayContaining(['aaaa-shop.alias.test.', 'aaaa-cdn.alias.test.']),
    );
  });

  it('keeps CNAMEs with --aws-prefer-cname (a dry run: it would replace the aliases)', async () => {
    const r = await runOperator([...args, '--aws-prefer-cname', '--dry-run'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const planned = r.stdout.split('\n').filter((l) => l.includes('dry run: would change'));
    expect(planned.join('\n')).toMatch(/"name":"shop\.alias\.test","type":"CNAME"/);
  });
});
