// A real cert-manager installation switched over as docs/migration-from-cert-manager.md says:
// cert-manager v1.21.2's controller (built from its module by testenv) issues Certificates
// for annotated Ingresses from a CA Issuer, is stopped, and the cert-operator, started with
// the guide's flags and the converted Issuer, takes each Certificate over: the Secret
// cert-manager wrote is kept as it is, with no second issuance.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client,
  Events,
  type Ingress,
  Ingresses,
  type KubeObject,
  resourceType,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { type CertManager, certManagerCrds, createCA, startCertManager } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates, Issuers, LABEL_MANAGED } from '../src/api/types.js';
import { parseConfig } from '../src/config.js';
import { keySpecOf } from '../src/pki/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

interface CertManagerObject extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string }> };
}
const CertManagerCertificates = resourceType<CertManagerObject>(
  'cert-manager.io/v1',
  'Certificate',
  'certificates',
  true,
);
const CertManagerIssuers = resourceType<KubeObject & { spec: unknown }>(
  'cert-manager.io/v1',
  'Issuer',
  'issuers',
  true,
);

/** The Ingresses of the installation: secretName, and the annotations beside the hosts. */
const INGRESSES: Record<string, Record<string, string>> = {
  'web-tls': { 'cert-manager.io/issuer': 'ca' },
  // A size alone: RSA, as cert-manager reads it (difference 6).
  'rsa-tls': { 'cert-manager.io/issuer': 'ca', 'cert-manager.io/private-key-size': '4096' },
  'ecdsa-tls': { 'cert-manager.io/issuer': 'ca', 'cert-manager.io/private-key-algorithm': 'ECDSA' },
  // The default issuer, named by --default-issuer-name alone: an Issuer (difference 5).
  'acme-tls': { 'kubernetes.io/tls-acme': 'true' },
};

describe('switching over from cert-manager v1.21.2', () => {
  let client: Client;
  let ns: string;
  let dir: string;
  let certManager: CertManager | undefined;
  let running: RunningManager | undefined;
  /** Each Secret's tls.crt and tls.key as cert-manager left them. */
  const issuedByCertManager = new Map<string, { crt?: string; key?: string }>();

  const secret = (name: string) => client.get(Secrets, { namespace: ns, name });

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply([...(await certManagerCrds()), ...CRDS]);
    ns = await cluster.createNamespace('migration');
    client = new Client(cluster.kubeConfig);
    dir = await mkdtemp(join(tmpdir(), 'chousei-migration-'));
    const ca = await createCA(dir, 'migration-ca');
    await client.create(Secrets, {
      metadata: { name: 'ca-key-pair', namespace: ns },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': ca.certPem, 'tls.key': ca.keyPem },
    });
    await client.create(CertManagerIssuers, {
      metadata: { name: 'ca', namespace: ns },
      spec: { ca: { secretName: 'ca-key-pair' } },
    });
    for (const [secretName, annotations] of Object.entries(INGRESSES)) {
      const host = `${secretName.replace('-tls', '')}.example.test`;
      const ing: Ingress = {
        metadata: { name: secretName.replace('-tls', ''), namespace: ns, annotations },
        spec: { rules: [{ host }], tls: [{ hosts: [host], secretName }] },
      };
      await client.create(Ingresses, ing);
    }
    // cert-manager refuses an Ingress naming both issuers (difference 8): so must we.
    await client.create(Ingresses, {
      metadata: {
        name: 'both',
        namespace: ns,
        annotations: { 'cert-manager.io/issuer': 'ca', 'cert-manager.io/cluster-issuer': 'ca' },
      },
      spec: {
        rules: [{ host: 'both.example.test' }],
        tls: [{ hosts: ['both.example.test'], secretName: 'both-tls' }],
      },
    });

    certManager = await startCertManager({
      kubeconfig: await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`),
      namespace: ns,
      args: ['--default-issuer-name=ca'],
    });
    for (const name of Object.keys(INGRESSES)) {
      await waitForCondition(client, CertManagerCertificates, { namespace: ns, name }, 'Ready', {
        timeoutMs: 30_000,
      });
      const s = await secret(name);
      issuedByCertManager.set(name, {
        crt: secretText(s, 'tls.crt'),
        key: secretText(s, 'tls.key'),
      });
    }
    // The guide's step 3: cert-manager's controller stops before the operator starts.
    await certManager.stop();
    certManager = undefined;
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    await certManager?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('made what the guide says cert-manager makes: RSA 4096 for a size alone, an Issuer by default, nothing for both issuers', async () => {
    const keyOf = async (name: string) =>
      keySpecOf(secretText(await secret(name), 'tls.key') ?? '');
    expect(await keyOf('web-tls')).toEqual({ algorithm: 'RSA', size: 2048 });
    expect(await keyOf('rsa-tls')).toEqual({ algorithm: 'RSA', size: 4096 });
    expect(await keyOf('ecdsa-tls')).toEqual({ algorithm: 'ECDSA', size: 256 });
    const acme = await client.get(CertManagerCertificates, { namespace: ns, name: 'acme-tls' });
    expect((acme as KubeObject & { spec: { issuerRef: unknown } }).spec.issuerRef).toMatchObject({
      name: 'ca',
      kind: 'Issuer',
    });
    await expect(
      client.get(CertManagerCertificates, { namespace: ns, name: 'both-tls' }),
    ).rejects.toThrow();
    // cert-manager says why with a BadConfig Warning, as the guide says both do.
    const refusals = (await client.list(Events, { namespace: ns })).filter(
      (e) => e.regarding?.name === 'both' && e.reason === 'BadConfig',
    );
    expect(refusals.map((e) => e.type)).toContain('Warning');
  });

  it('the cert-operator takes every Certificate over with the guide flags, without issuing again', async () => {
    // The guide's step 5: the Issuer converted under its name, the same Secret.
    await client.create(Issuers, {
      metadata: { name: 'ca', namespace: ns },
      spec: { ca: { secretName: 'ca-key-pair' } },
    });
    // The guide's step 4: the operator with cert-manager's --default-issuer-name.
    const config = parseConfig(['--namespace', ns, '--default-issuer-name', 'ca'], {});
    ({ running } = await startCertOperator({
      namespace: ns,
      clusterResourceNamespace: config.clusterResourceNamespace,
      ...(config.defaultIssuer ? { defaultIssuer: config.defaultIssuer } : {}),
      http01SolverPort: 0,
      http01SolverHost: '127.0.0.1',
    }));
    for (const [name, issued] of issuedByCertManager) {
      await waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready', {
        timeoutMs: 30_000,
      });
      const taken: Secret = await waitFor(async () => {
        const s = await secret(name);
        return s.metadata?.labels?.[LABEL_MANAGED] === 'true' && s;
      });
      expect(secretText(taken, 'tls.crt'), `${name}: the certificate cert-manager issued`).toBe(
        issued.crt,
      );
      // The key too, in cert-manager's encoding (PKCS#1), until the operator's next issuance.
      expect(secretText(taken, 'tls.key'), `${name}: cert-manager's key`).toBe(issued.key);
    }
    const issuing = (await client.list(Events, { namespace: ns })).filter(
      (e) => e.regarding?.apiVersion === Certificates.apiVersion && e.reason === 'Issuing',
    );
    expect(issuing.map((e) => `${e.regarding?.name}: ${e.note}`)).toEqual([]);
    // Nothing for the Ingress naming both issuers, and it is told why, by the operator too.
    await waitFor(async () =>
      (await client.list(Events, { namespace: ns })).some(
        (e) =>
          e.regarding?.name === 'both' &&
          e.reason === 'BadConfig' &&
          e.reportingController === 'chousei-cert-operator',
      ),
    );
    await expect(client.get(Certificates, { namespace: ns, name: 'both-tls' })).rejects.toThrow();
  });
});
