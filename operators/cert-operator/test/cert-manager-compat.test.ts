// Where cert-manager v1.21.2 and the cert-operator read the same input differently and the
// migration guide relies on them agreeing (issue 18): each checked against cert-manager's own
// source (internal/apis/config/controller/v1alpha1/defaults.go, certificate-shim/helper.go
// and sync.go, issuer/acme/dns/rfc2136/rfc2136.go) and, in migration.test.ts, its binary.
import { Client, type Ingress, Secrets } from '@chousei/runtime';
import { type RunningManager, waitForCondition, waitForEvent } from '@chousei/runtime/testing';
import { type Bind9, type Pebble, startBind9, startPebble } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates, Issuers } from '../src/api/types.js';
import { parseConfig } from '../src/config.js';
import { desiredCertificates } from '../src/controllers/ingress-shim.js';
import { startCertOperator } from './operator.js';

const ingress = (annotations: Record<string, string>): Ingress => ({
  metadata: { name: 'web', namespace: 'apps', uid: 'u-1', annotations },
  spec: {
    rules: [{ host: 'web.example.test' }],
    tls: [{ hosts: ['web.example.test'], secretName: 'web-tls' }],
  },
});

describe("difference 5: --default-issuer-kind defaults to Issuer, as cert-manager's", () => {
  it('names an Issuer when only --default-issuer-name is given', () => {
    expect(parseConfig(['--default-issuer-name', 'letsencrypt'], {}).defaultIssuer).toEqual({
      name: 'letsencrypt',
      kind: 'Issuer',
    });
    const { certificates } = desiredCertificates(
      ingress({ 'kubernetes.io/tls-acme': 'true' }),
      parseConfig(['--default-issuer-name', 'letsencrypt'], {}).defaultIssuer,
    );
    expect(certificates[0]?.spec.issuerRef).toEqual({ name: 'letsencrypt', kind: 'Issuer' });
  });
});

describe('difference 6: cert-manager.io/private-key-size alone asks for an RSA key', () => {
  it.each(['2048', '4096'])('size %s alone: RSA of that size', (size) => {
    const { certificates, errors } = desiredCertificates(
      ingress({ 'cert-manager.io/issuer': 'ca', 'cert-manager.io/private-key-size': size }),
    );
    expect(errors).toEqual([]);
    expect(certificates[0]?.spec.privateKey).toEqual({ algorithm: 'RSA', size: Number(size) });
  });

  it('with an algorithm, that algorithm', () => {
    const { certificates } = desiredCertificates(
      ingress({
        'cert-manager.io/issuer': 'ca',
        'cert-manager.io/private-key-algorithm': 'ECDSA',
        'cert-manager.io/private-key-size': '384',
      }),
    );
    expect(certificates[0]?.spec.privateKey).toEqual({ algorithm: 'ECDSA', size: 384 });
  });
});

describe('difference 8: an Ingress naming both issuer and cluster-issuer is refused, as cert-manager refuses it', () => {
  it('makes no Certificate, and says why', () => {
    const { certificates, errors } = desiredCertificates(
      ingress({ 'cert-manager.io/issuer': 'a', 'cert-manager.io/cluster-issuer': 'b' }),
    );
    expect(certificates).toEqual([]);
    expect(errors).toEqual([
      'metadata.annotations: both cert-manager.io/issuer and cert-manager.io/cluster-issuer may not be set (cert-manager refuses such an Ingress too): no Certificate is made or changed',
    ]);
  });
});

describe('difference 7: RFC2136 TSIG as cert-manager signs: HMACMD5 when tsigAlgorithm is unset', () => {
  let bind: Bind9;
  let pebble: Pebble;
  let client: Client;
  let ns: string;
  let running: RunningManager | undefined;

  beforeAll(async () => {
    // A server whose key is MD5, as cert-manager users' servers are when they never set it.
    bind = await startBind9({ zones: ['example.test'], algorithm: 'hmac-md5' });
    pebble = await startPebble({ dnsServer: bind.address });
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('tsig');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startCertOperator({
      clusterResourceNamespace: ns,
      http01SolverPort: 0,
      http01SolverHost: '127.0.0.1',
      backoff: { initialMs: 1000, maxMs: 2000 },
    }));
  });
  afterAll(async () => {
    await running?.stop();
    await pebble?.stop();
    await bind?.stop();
  });

  it('issues over DNS-01 with an Issuer copied without tsigAlgorithm, and warns that MD5 is weak', async () => {
    await client.create(Secrets, {
      metadata: { name: 'tsig', namespace: ns },
      stringData: { secret: bind.tsig.secret },
    });
    await client.create(Issuers, {
      metadata: { name: 'dns', namespace: ns },
      spec: {
        acme: {
          server: pebble.directoryUrl,
          privateKeySecretRef: { name: 'dns-account' },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers: [
            {
              dns01: {
                rfc2136: {
                  nameserver: bind.address,
                  tsigKeyName: bind.tsig.name,
                  tsigSecretSecretRef: { name: 'tsig' },
                },
              },
            },
          ],
        },
      },
    });
    await client.create(Certificates, {
      metadata: { name: 'site', namespace: ns },
      spec: { secretName: 'site-tls', issuerRef: { name: 'dns' }, dnsNames: ['site.example.test'] },
    });
    await waitForCondition(client, Certificates, { namespace: ns, name: 'site' }, 'Ready', {
      timeoutMs: 30_000,
    });
    const events = await waitForEvent(
      client,
      { kind: 'Issuer', namespace: ns, name: 'dns' },
      (e) => e.reason === 'WeakTSIGAlgorithm',
    );
    expect(events.find((e) => e.reason === 'WeakTSIGAlgorithm')?.note).toBe(
      'spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm: HMACMD5 (the default when unset, as in cert-manager): hmac-md5 is deprecated (RFC 8945 6): MD5 is broken',
    );
  });
});
