import { Client, Events, Ingresses } from '@chousei/runtime';
import { type Bind9, startBind9 } from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOperator as run } from './command.js';

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
