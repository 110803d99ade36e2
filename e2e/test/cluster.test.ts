// Both operators installed as users install them: images built from the shipped
// Dockerfiles, `helm install` of each chart, Pods of a one-node cluster.
import {
  Certificates,
  inspectCertificate,
  keyMatchesCertificate,
  verifyChain,
} from '@chousei/cert-operator';
import { Ingresses, Pods, Secrets } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterStack,
  Deployments,
  ISSUER,
  OPERATORS,
  startClusterStack,
} from '../src/cluster.ts';
import { text } from './world.ts';

describe('installed as users install it', () => {
  let stack: ClusterStack;

  beforeAll(async () => {
    stack = await startClusterStack();
    const { cluster, images } = stack;
    console.log(`cluster start to node Ready: ${cluster.readyAfterMs} ms`);
    for (const [name, image] of Object.entries(images)) {
      console.log(`${name} image: ${image.buildMs ? `built in ${image.buildMs} ms` : 'cached'}`);
    }
    console.log(`helm install to both Deployments Ready: ${stack.installMs} ms`);
  }, 900_000);
  afterAll(() => stack?.stop());

  it('each image, built from its Dockerfile, runs its command as nonroot from a read-only root', async () => {
    const namespace = await stack.cluster.createNamespace('images');
    for (const name of OPERATORS) {
      await stack.client.create(Pods, {
        metadata: { name, namespace },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name,
              image: stack.images[name].name,
              imagePullPolicy: 'Never',
              args: ['--help'],
              securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
            },
          ],
        },
      });
    }
    for (const name of OPERATORS) {
      const pod = await waitFor(
        async () => {
          const p = await stack.client.get(Pods, { namespace, name });
          return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
        },
        { timeoutMs: 60_000, description: `Pod ${name} done` },
      );
      // Through the API server's egress to the kubelet, as `kubectl logs` goes.
      const logs = await stack.cluster.kubectl('logs', '-n', namespace, name);
      expect(pod.status?.phase, logs).toBe('Succeeded');
      expect(logs).toContain('--leader-elect');
    }
  });

  it('helm install: each Deployment 2/2 Ready, one replica leading', async () => {
    for (const name of OPERATORS) {
      const deployment = await stack.client.get(Deployments, { namespace: name, name });
      expect(deployment.status?.readyReplicas).toBe(2);
      const pods = await stack.client.list(Pods, { namespace: name });
      expect(pods.map((p) => p.spec?.containers[0]?.image)).toEqual([
        stack.images[name].name,
        stack.images[name].name,
      ]);
      expect(pods.map((p) => p.metadata?.name)).toContain(await stack.leader(name));
    }
  });

  it("refuses a bad Certificate: the API server calls the cert-operator's webhook through its Service", async () => {
    const namespace = await stack.cluster.createNamespace('webhook');
    const err = await stack.client
      .create(Certificates, {
        metadata: { name: 'bad', namespace },
        spec: {
          secretName: 'bad-tls',
          // Valid for the CRD schema; a rule across items only the webhook checks.
          dnsNames: ['a.chousei.test', 'a.chousei.test'],
          issuerRef: { name: ISSUER, kind: 'ClusterIssuer' },
        },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toContain('admission webhook "certificates.cert.chousei.dev" denied');
    expect(err?.message).toContain('spec.dnsNames[1]: duplicate of spec.dnsNames[0]');
  });

  it('an Ingress gets its A record in BIND9 and a certificate from Pebble, HTTP-01 reached through the ingress controller', async () => {
    const namespace = await stack.cluster.createNamespace('http01');
    const host = `web.${stack.zone}`;
    await stack.client.create(Ingresses, {
      metadata: {
        name: 'web',
        namespace,
        annotations: { 'cert-manager.io/cluster-issuer': ISSUER },
      },
      spec: {
        rules: [
          {
            host,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
        tls: [{ hosts: [host], secretName: 'web-tls' }],
      },
    });
    // The ingress controller's part: its load balancer's address.
    await stack.client.patchStatus(
      Ingresses,
      { namespace, name: 'web' },
      {
        type: 'merge',
        patch: { status: { loadBalancer: { ingress: [{ ip: stack.ingress.address }] } } },
      },
    );
    await waitFor(async () => (await stack.bind.dig(host, 'A')).length > 0, {
      timeoutMs: 30_000,
      description: `A record of ${host}`,
    });
    expect(await stack.bind.dig(host, 'A')).toEqual([stack.ingress.address]);

    const cert = await waitForCondition(
      stack.client,
      Certificates,
      { namespace, name: 'web-tls' },
      'Ready',
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(cert.status?.revision).toBe(1);
    const secret = await stack.client.get(Secrets, { namespace, name: 'web-tls' });
    const chain = text(secret, 'tls.crt');
    expect(verifyChain(chain, await stack.pebble.rootCertificate())).toEqual({ valid: true });
    expect(inspectCertificate(chain).dnsNames).toEqual([host]);
    expect(keyMatchesCertificate(text(secret, 'tls.key'), chain)).toBe(true);
  });
});
