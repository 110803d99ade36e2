// Both operators installed as users install them: images built from the shipped
// Dockerfiles, `helm install` of each chart, Pods of a one-node cluster.
import {
  Certificates,
  inspectCertificate,
  keyMatchesCertificate,
  verifyChain,
} from '@chousei/cert-operator';
import {
  CustomResourceDefinitions,
  Ingresses,
  Leases,
  Pods,
  Secrets,
  ValidatingWebhookConfigurations,
} from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import { installChart, uninstallChart } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir } from '../src/charts.ts';
import {
  type ClusterStack,
  Deployments,
  ISSUER,
  OPERATORS,
  type OperatorName,
  startClusterStack,
} from '../src/cluster.ts';
import { certifiedIngress, text } from './world.ts';

describe('installed as users install it', () => {
  let stack: ClusterStack;

  /** Waits until `name`'s Deployment is back to 2 Ready replicas of its current spec. */
  const waitForReplicas = (name: OperatorName) =>
    waitFor(
      async () => {
        const d = await stack.client.get(Deployments, { namespace: name, name });
        return d.status?.readyReplicas === 2 && d.status.updatedReplicas === 2;
      },
      { timeoutMs: 90_000, description: `${name} 2/2 Ready` },
    );
  /**
   * A Certificate Ready: issued (by Pebble, for the ClusterIssuer of the chart's values). Not
   * in time, the error carries the last lines of each cert-operator replica.
   */
  const issued = (namespace: string, name: string) =>
    waitForCondition(stack.client, Certificates, { namespace, name }, 'Ready', {
      timeoutMs: 120_000,
      intervalMs: 200,
    }).catch(async (err: Error) => {
      const pods = await stack.client.list(Pods, { namespace: 'cert-operator' });
      const tails = await Promise.all(
        pods.map(async ({ metadata }) => {
          const pod = metadata?.name ?? '';
          const tail = await stack.cluster
            .kubectl('logs', '-n', 'cert-operator', pod, '--tail=60')
            .catch((e: Error) => e.message);
          return `--- ${pod}\n${tail}`;
        }),
      );
      throw new Error(`${err.message}\n${tails.join('\n')}`, { cause: err });
    });
  /** The ingress controller's part: its load balancer's address in the Ingress's status. */
  const loadBalancer = (namespace: string, name: string) =>
    stack.client.patchStatus(
      Ingresses,
      { namespace, name },
      {
        type: 'merge',
        patch: { status: { loadBalancer: { ingress: [{ ip: stack.ingress.address }] } } },
      },
    );

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
    await stack.client.create(Ingresses, certifiedIngress(namespace, 'web', host, ISSUER));
    await loadBalancer(namespace, 'web');
    await waitFor(async () => (await stack.bind.dig(host, 'A')).length > 0, {
      timeoutMs: 30_000,
      description: `A record of ${host}`,
    });
    expect(await stack.bind.dig(host, 'A')).toEqual([stack.ingress.address]);

    const cert = await issued(namespace, 'web-tls');
    expect(cert.status?.revision).toBe(1);
    const secret = await stack.client.get(Secrets, { namespace, name: 'web-tls' });
    const chain = text(secret, 'tls.crt');
    expect(verifyChain(chain, await stack.pebble.rootCertificate())).toEqual({ valid: true });
    expect(inspectCertificate(chain).dnsNames).toEqual([host]);
    expect(keyMatchesCertificate(text(secret, 'tls.key'), chain)).toBe(true);
  });

  /** Deletes `name`'s leader Pod as `kubectl delete pod` does; answers when another leads. */
  const deleteLeader = async (name: OperatorName) => {
    const old = await stack.leader(name);
    const started = Date.now();
    await stack.cluster.kubectl('delete', 'pod', '-n', name, old, '--wait=false');
    const next = await waitFor(
      async () => {
        const now = await stack.leader(name);
        return now !== old && now;
      },
      { timeoutMs: 60_000, description: `a new leader of ${name}` },
    );
    const ms = Date.now() - started;
    console.log(`${name}: leader Pod deleted -> new leader in ${ms} ms`);
    return { old, next, ms };
  };

  it('cert-operator leader deleted mid-order: the other replica leads and resumes the same ACME order', async () => {
    const namespace = await stack.cluster.createNamespace('resume');
    const host = `resume.${stack.zone}`;
    // No address yet: the self-check holds the order, placed and recorded, at its challenge.
    await stack.client.create(Ingresses, certifiedIngress(namespace, 'resume', host, ISSUER));
    const pending = await waitFor(
      async () => {
        const c = await stack.client.get(Certificates, { namespace, name: 'resume-tls' });
        const issuing = c.status?.conditions?.find((x) => x.type === 'Issuing');
        // The system resolver's answer for a name without a record.
        return issuing?.message.includes('ENOTFOUND') && c.status?.acmeOrder?.url && c;
      },
      { timeoutMs: 60_000, description: 'the order placed, its self-check waiting' },
    );
    const order = pending.status?.acmeOrder?.url;
    const orders = new Set<string>();
    const sampling = setInterval(() => {
      stack.client
        .get(Certificates, { namespace, name: 'resume-tls' })
        .then((c) => c.status?.acmeOrder?.url && orders.add(c.status.acmeOrder.url))
        .catch(() => {});
    }, 100);
    try {
      await deleteLeader('cert-operator');
      await loadBalancer(namespace, 'resume');
      const cert = await issued(namespace, 'resume-tls');
      expect(cert.status?.revision).toBe(1);
      expect(cert.status?.failedIssuanceAttempts).toBeUndefined();
    } finally {
      clearInterval(sampling);
    }
    // Never another order: the new leader finished the one the deleted leader placed.
    expect([...orders]).toEqual([order]);
    await waitForReplicas('cert-operator');
  });

  it('dns-operator leader deleted as an Ingress arrives: the other replica leads and publishes it', async () => {
    const namespace = await stack.cluster.createNamespace('handover');
    const host = `handover.${stack.zone}`;
    const deleting = deleteLeader('dns-operator');
    await stack.client.create(Ingresses, certifiedIngress(namespace, 'handover', host, ISSUER));
    await loadBalancer(namespace, 'handover');
    await deleting;
    await waitFor(async () => (await stack.bind.dig(host, 'A')).length > 0, {
      timeoutMs: 60_000,
      description: `A record of ${host}`,
    });
    expect(await stack.bind.dig(host, 'A')).toEqual([stack.ingress.address]);
    await waitForReplicas('dns-operator');
  });

  it('the kubelet restarts a container killed with SIGKILL', async () => {
    const [pod] = await stack.client.list(Pods, { namespace: 'dns-operator' });
    const status = pod?.status?.containerStatuses?.[0];
    const id = status?.containerID?.replace('containerd://', '');
    if (!pod?.metadata?.name || !id) throw new Error('no dns-operator container running');
    await stack.cluster.node.ctr('tasks', 'kill', '--signal', 'SIGKILL', id);
    const restarted = await waitFor(
      async () => {
        const p = await stack.client.get(Pods, {
          namespace: 'dns-operator',
          name: pod.metadata!.name!,
        });
        const s = p.status?.containerStatuses?.[0];
        return (s?.restartCount ?? 0) > (status?.restartCount ?? 0) && s?.ready && s;
      },
      { timeoutMs: 90_000, description: 'the container restarted and Ready' },
    );
    expect(restarted.lastState?.terminated?.exitCode).toBe(137);
  });

  it('helm upgrade with a changed value rolls out without a lost record or a second issuance', async () => {
    const host = `web.${stack.zone}`;
    const [namespace] = (await stack.client.list(Certificates, {}))
      .filter((c) => c.metadata?.name === 'web-tls')
      .map((c) => c.metadata?.namespace);
    if (!namespace) throw new Error('the web Ingress of the HTTP-01 test is gone');
    const secretBefore = await stack.client.get(Secrets, { namespace, name: 'web-tls' });
    const answers = new Set<string>();
    let digging = true;
    const dig = (async () => {
      while (digging) {
        answers.add((await stack.bind.dig(host, 'A')).join(',') || 'none');
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const podsBefore = new Set(
      (await stack.client.list(Pods, { namespace: 'dns-operator' })).map((p) => p.metadata?.name),
    );
    try {
      await Promise.all(
        OPERATORS.map((name) =>
          installChart(chartDir(name), {
            release: name,
            namespace: name,
            kubeconfig: stack.cluster.kubeconfig,
            set: { ...stack.values[name], logLevel: 'debug' },
            upgrade: true,
          }),
        ),
      );
      // Rolled out: helm's --wait ends once the new Pods are Ready; the old ones then go.
      await waitFor(
        async () =>
          !(await stack.client.list(Pods, { namespace: 'dns-operator' })).some((p) =>
            podsBefore.has(p.metadata?.name),
          ),
        { timeoutMs: 60_000, description: 'the Pods from before the upgrade gone' },
      );
    } finally {
      digging = false;
      await dig;
    }
    expect([...answers]).toEqual([stack.ingress.address]);
    const cert = await stack.client.get(Certificates, { namespace, name: 'web-tls' });
    expect(cert.status?.revision).toBe(1);
    const secretAfter = await stack.client.get(Secrets, { namespace, name: 'web-tls' });
    expect(secretAfter.data?.['tls.crt']).toBe(secretBefore.data?.['tls.crt']);
  });

  it('helm uninstall leaves no Pod, Lease, webhook configuration or RBAC object; the CRDs stay', async () => {
    for (const name of OPERATORS) {
      await uninstallChart(name, { namespace: name, kubeconfig: stack.cluster.kubeconfig });
    }
    const left = async () => {
      const found: string[] = [];
      for (const name of OPERATORS) {
        for (const p of await stack.client.list(Pods, { namespace: name })) {
          found.push(`Pod ${name}/${p.metadata?.name}`);
        }
        for (const l of await stack.client.list(Leases, { namespace: name })) {
          found.push(`Lease ${name}/${l.metadata?.name}`);
        }
      }
      for (const w of await stack.client.list(ValidatingWebhookConfigurations)) {
        found.push(`ValidatingWebhookConfiguration ${w.metadata?.name}`);
      }
      const rbac = await stack.cluster.kubectl(
        'get',
        'clusterroles,clusterrolebindings,roles,rolebindings,serviceaccounts',
        '--all-namespaces',
        '--selector=app.kubernetes.io/managed-by=Helm',
        '--output=name',
      );
      found.push(...rbac.split('\n').filter(Boolean));
      return found;
    };
    await waitFor(async () => (await left()).length === 0, {
      timeoutMs: 60_000,
      description: 'nothing of the releases left',
    }).catch(() => undefined);
    expect(await left()).toEqual([]);
    const crds = await stack.client.list(CustomResourceDefinitions);
    expect(crds.map((c) => c.metadata?.name)).toEqual(
      expect.arrayContaining(['certificates.cert.chousei.dev', 'dnsendpoints.dns.chousei.dev']),
    );
  });
});
