// Each operator installed as docs/getting-started.md tells a user, for each DNS provider
// and each issuer kind: the page's `helm install` values (and values file) rendered by the
// chart, and the Deployment's arguments and environment run as the image runs them
// (dist/main.js with its ENTRYPOINT's Node flags). What the page leaves to the user — their
// servers, secrets and ACME server — is this world's: moto for Route53, BIND9 for RFC2136
// and as the DNS Pebble resolves through, Pebble for Let's Encrypt. Without nodes there is
// no Service network, so the webhook is off and Pebble reaches the challenge server directly.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CertificateSpec,
  Certificates,
  ClusterIssuers,
  type IssuerSpec,
  inspectCertificate,
  keyMatchesCertificate,
  verifyChain,
} from '@chousei/cert-operator';
import { DNSEndpoints } from '@chousei/dns-operator';
import { Client, Ingresses, Secrets, Services } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  type ControlPlane,
  freePort,
  type Moto,
  type OperatorProcess,
  type Pebble,
  renderChart,
  startBind9,
  startControlPlane,
  startMoto,
  startOperatorProcess,
  startPebble,
} from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartDir,
  deploymentCommand,
  installChart,
  type OperatorName,
  packageDir,
} from '../src/charts.ts';
import { docsPage } from '../src/docs.ts';
import { text } from './world.ts';

const gettingStarted = docsPage('getting-started.md');
const dnsReference = docsPage('dns-operator.md');
const SECTION = {
  route53: 'dns-operator with Route53',
  rfc2136: 'dns-operator with an RFC2136 server',
  cert: "cert-operator with a Let's Encrypt staging ClusterIssuer",
  ingress: 'An Ingress that gets both',
};

describe('user paths: each operator as docs/getting-started.md installs it', () => {
  let cluster: ControlPlane;
  let client: Client;
  let bind: Bind9;
  let moto: Moto;
  let pebble: Pebble;
  let solverPort: number;
  let route53ZoneId: string;
  const running: OperatorProcess[] = [];

  beforeAll(async () => {
    solverPort = await freePort();
    // The zones the page's commands name: example.com at Route53, example.org at BIND9.
    [cluster, moto, bind] = await Promise.all([
      startControlPlane(),
      startMoto(),
      startBind9({ zones: ['example.org'] }),
    ]);
    // Pebble resolves through BIND9 and validates HTTP-01 on the challenge server's port.
    pebble = await startPebble({ httpPort: solverPort, dnsServer: bind.address });
    route53ZoneId = await moto.createHostedZone('example.com');
    client = new Client(cluster.kubeConfig);
  }, 180_000);
  afterAll(async () => {
    for (const op of running.splice(0)) await op.terminate();
    await Promise.all([pebble?.stop(), bind?.stop(), moto?.stop()]);
    await cluster?.stop();
  });

  /** The page's Secrets of a section, created with this world's values for their keys. */
  const createSecrets = async (heading: string, values: Record<string, string>) => {
    for (const s of await gettingStarted.secrets(heading)) {
      await cluster.ensureNamespace(s.namespace);
      const data = Object.fromEntries(s.keys.map((k) => [k, values[k] ?? '']));
      await client.create(Secrets, {
        metadata: { name: s.name, namespace: s.namespace },
        stringData: data,
      });
    }
  };

  /**
   * The section's `helm install` with `own` values on top (what the page leaves to the
   * user): CRDs and RBAC applied, the Deployment's command started with `env` added (the
   * kubeconfig and loopback ports replace the in-cluster ones).
   */
  const install = async (
    operator: OperatorName,
    heading: string,
    own: {
      set?: Record<string, unknown>;
      /** Where the user saved each values file the page names. */
      files?: Record<string, string>;
      env?: NodeJS.ProcessEnv;
    },
  ) => {
    const doc = await gettingStarted.helmInstall(heading);
    const objects = await renderChart(chartDir(operator), {
      release: doc.release,
      namespace: doc.namespace,
      valuesFiles: doc.valuesFiles.map((f) => {
        const path = own.files?.[f];
        if (!path) throw new Error(`${heading}: the page's ${f} was not saved`);
        return path;
      }),
      set: { ...doc.set, ...own.set },
    });
    const { kubeconfig } = await installChart(cluster, doc.namespace, objects);
    const { args, env } = await deploymentCommand(objects, client);
    const op = await startOperatorProcess({
      name: operator,
      operatorDir: packageDir(operator),
      args: [...args, `--kubeconfig=${kubeconfig}`],
      env: { ...env, ...own.env },
    });
    running.push(op);
    await op.waitUntilReady(30_000, async () =>
      /^leader_election_master_status\{[^}]*\} 1$/m.test(await op.metrics()),
    );
    return { op, objects };
  };

  /** The page's Ingress in `namespace` for `host`, with an ingress controller's address. */
  const pageIngress = async (namespace: string, host: string, address: string) => {
    const manifest = (await gettingStarted.manifest(SECTION.ingress))
      .replace('namespace: default', `namespace: ${namespace}`)
      .replaceAll('web.example.com', host);
    await cluster.ensureNamespace(namespace);
    await cluster.apply(manifest);
    await client.patchStatus(
      Ingresses,
      { namespace, name: 'web' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: address }] } } } },
    );
  };

  const route53 = async (name: string, type: string) =>
    (await moto.listRecords(route53ZoneId)).find((r) => r.Name === `${name}.` && r.Type === type);

  it('dns-operator with Route53: an Ingress and a DNSEndpoint get their records, deleted with them', async () => {
    await createSecrets(SECTION.route53, {
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    });
    // The SDK's own variable points it at moto; credentials come from the page's Secret.
    const { op } = await install('dns-operator', SECTION.route53, {
      env: { AWS_ENDPOINT_URL: moto.endpoint },
    });
    // One provider at a time, as a user picks one: stopped here, even when a check failed,
    // so that the RFC2136 one below leads.
    try {
      await pageIngress('r53', 'web.example.com', '192.0.2.80');
      // The reference's DNSEndpoint example, as written (its SRV, MX and TXT need
      // --managed-record-types: reported, not written).
      await cluster.apply(
        (await dnsReference.manifest('DNSEndpoint (`dns.chousei.dev/v1alpha1`)')).replace(
          'metadata: { name: records }',
          'metadata: { name: records, namespace: r53 }',
        ),
      );
      const a = await waitFor(() => route53('web.example.com', 'A'), {
        timeoutMs: 30_000,
        description: 'the A record of web.example.com at Route53',
      });
      expect(a).toMatchObject({ TTL: 120, ResourceRecords: [{ Value: '192.0.2.80' }] });
      expect((await route53('a-web.example.com', 'TXT'))?.ResourceRecords).toEqual([
        {
          Value:
            '"heritage=external-dns,external-dns/owner=my-cluster,external-dns/resource=ingress/r53/web"',
        },
      ]);
      const api = await waitFor(() => route53('api.example.com', 'A'), { timeoutMs: 30_000 });
      expect(api.ResourceRecords).toEqual([{ Value: '192.0.2.1' }]);
      expect(await route53('example.com', 'MX')).toBeUndefined();
      const status = await waitFor(async () => {
        const eps = (await client.get(DNSEndpoints, { namespace: 'r53', name: 'records' })).status
          ?.endpoints;
        return eps?.length === 4 && eps;
      });
      expect(status.map((e) => `${e.recordType} ${e.reason}`)).toEqual([
        'A Published',
        'SRV UnmanagedType',
        'MX UnmanagedType',
        'TXT UnmanagedType',
      ]);

      await client.delete(Ingresses, { namespace: 'r53', name: 'web' });
      await waitFor(async () => !(await route53('web.example.com', 'A')), { timeoutMs: 30_000 });
    } finally {
      running.splice(running.indexOf(op), 1);
      expect(await op.terminate()).toMatchObject({ code: 0 });
    }
  });

  it('dns-operator with an RFC2136 server: an Ingress and a Service get their records', async () => {
    await createSecrets(SECTION.rfc2136, { 'tsig-secret': bind.tsig.secret });
    await install('dns-operator', SECTION.rfc2136, {
      // The page's ns1.example.org and key name are the user's: here BIND9's.
      set: {
        'provider.rfc2136.host': bind.host,
        'provider.rfc2136.port': bind.port,
        'provider.rfc2136.tsigKeyName': bind.tsig.name,
      },
    });
    // On this machine, so that Pebble reaches the HTTP-01 solver through it (below).
    await pageIngress('rfc', 'web.example.org', '127.0.0.1');
    await client.create(Services, {
      metadata: {
        name: 'api',
        namespace: 'rfc',
        annotations: { 'external-dns.alpha.kubernetes.io/hostname': 'api.example.org' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 443 }] },
    });
    await client.patchStatus(
      Services,
      { namespace: 'rfc', name: 'api' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.90' }] } } } },
    );
    await waitFor(async () => (await bind.dig('web.example.org', 'A')).length > 0, {
      timeoutMs: 30_000,
      description: 'the A record of web.example.org in BIND9',
    });
    expect(await bind.dig('web.example.org', 'A')).toEqual(['127.0.0.1']);
    await waitFor(async () => (await bind.dig('api.example.org', 'A')).length > 0, {
      timeoutMs: 30_000,
    });
    expect(await bind.dig('api.example.org', 'A')).toEqual(['192.0.2.90']);
    expect(await bind.dig('a-api.example.org', 'TXT')).toEqual([
      '"heritage=external-dns,external-dns/owner=my-cluster,external-dns/resource=service/rfc/api"',
    ]);
  });

  describe('cert-operator, with each issuer kind', () => {
    const ns = 'certs';
    const resourceNs = 'cert-operator';

    beforeAll(async () => {
      // The page's values file, as the user saves it.
      const valuesFile = join(cluster.dir, 'cert-operator-values.yaml');
      await writeFile(
        valuesFile,
        await gettingStarted.file(SECTION.cert, 'cert-operator-values.yaml'),
      );
      const { objects } = await install('cert-operator', SECTION.cert, {
        files: { 'cert-operator-values.yaml': valuesFile },
        set: {
          // The user's ACME server: Pebble in place of Let's Encrypt staging, trusted by caBundle.
          'clusterIssuers.letsencrypt-staging.acme.server': pebble.directoryUrl,
          'clusterIssuers.letsencrypt-staging.acme.caBundle': Buffer.from(pebble.tlsCaPem).toString(
            'base64',
          ),
          // No Service network: the API server could not call the webhook.
          'webhook.enabled': false,
          // Pebble connects to the challenge server itself, on this port; names resolve
          // through BIND9 (the self-check's split-horizon flags).
          'http01.port': solverPort,
          'http01.selfCheckNameservers': [bind.address],
          extraArgs: [`--http01-self-check-port=${solverPort}`],
        },
      });
      // As helm install creates it with the release.
      await cluster.apply(objects.filter((o) => o.kind === 'ClusterIssuer'));
      await cluster.ensureNamespace(ns);
    }, 120_000);

    /** A Certificate (its Secret of the same name) once Ready: its tls.crt, key checked. */
    const certificate = async (
      name: string,
      issuer: string,
      spec: Omit<CertificateSpec, 'secretName' | 'issuerRef'>,
      namespace = ns,
    ) => {
      await client.create(Certificates, {
        metadata: { name, namespace },
        spec: { secretName: name, issuerRef: { name: issuer, kind: 'ClusterIssuer' }, ...spec },
      });
      await waitForCondition(client, Certificates, { namespace, name }, 'Ready', {
        timeoutMs: 90_000,
      });
      const secret = await client.get(Secrets, { namespace, name });
      expect(keyMatchesCertificate(text(secret, 'tls.key'), text(secret, 'tls.crt'))).toBe(true);
      return text(secret, 'tls.crt');
    };
    const clusterIssuer = async (name: string, spec: IssuerSpec) => {
      await client.create(ClusterIssuers, { metadata: { name }, spec });
      await waitForCondition(client, ClusterIssuers, { name }, 'Ready', { timeoutMs: 30_000 });
    };

    it('SelfSigned, and a CA issuer from a CA certificate it issued', async () => {
      await clusterIssuer('selfsigned', { selfSigned: {} });
      const self = await certificate('self', 'selfsigned', { dnsNames: ['self.example.org'] });
      expect(verifyChain(self, self)).toEqual({ valid: true });

      // cert-manager's bootstrap: a self-signed CA certificate, then a CA issuer on its Secret
      // (a ClusterIssuer's Secrets live in the cluster resource namespace).
      const root = await certificate(
        'root-ca',
        'selfsigned',
        { isCA: true, commonName: 'user-path root' },
        resourceNs,
      );
      await clusterIssuer('ca', { ca: { secretName: 'root-ca' } });
      const leaf = await certificate('leaf', 'ca', { dnsNames: ['leaf.example.org'] });
      expect(verifyChain(leaf, root)).toEqual({ valid: true });
      expect(inspectCertificate(leaf).dnsNames).toEqual(['leaf.example.org']);
    });

    it("ACME HTTP-01: the page's Ingress gets its certificate, validated through the dns-operator's record", async () => {
      // The Ingress of the RFC2136 path asks for web-tls from letsencrypt-staging.
      await waitForCondition(client, Certificates, { namespace: 'rfc', name: 'web-tls' }, 'Ready', {
        timeoutMs: 120_000,
      });
      const chain = text(
        await client.get(Secrets, { namespace: 'rfc', name: 'web-tls' }),
        'tls.crt',
      );
      expect(verifyChain(chain, await pebble.rootCertificate())).toEqual({ valid: true });
      expect(inspectCertificate(chain).dnsNames).toEqual(['web.example.org']);
    });

    it('ACME DNS-01 through RFC2136: a wildcard certificate', async () => {
      await client.create(Secrets, {
        metadata: { name: 'tsig', namespace: resourceNs },
        stringData: { secret: bind.tsig.secret },
      });
      await clusterIssuer('dns01', {
        acme: {
          server: pebble.directoryUrl,
          email: 'ops@example.org',
          privateKeySecretRef: { name: 'dns01-account' },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers: [
            {
              dns01: {
                rfc2136: {
                  nameserver: bind.address,
                  tsigKeyName: bind.tsig.name,
                  tsigAlgorithm: 'HMACSHA256',
                  tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
                },
              },
            },
          ],
        },
      });
      const chain = await certificate('apps', 'dns01', { dnsNames: ['*.apps.example.org'] });
      expect(verifyChain(chain, await pebble.rootCertificate())).toEqual({ valid: true });
      expect(inspectCertificate(chain).dnsNames).toEqual(['*.apps.example.org']);
    });
  });
});
