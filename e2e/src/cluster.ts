import { ClusterIssuers } from '@chousei/cert-operator';
import { Client, type KubeObject, Leases, Pods, resourceType, Secrets } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  buildOperatorImage,
  type IngressController,
  installChart,
  type LocalCluster,
  NODE_ADDRESSES,
  type OperatorImage,
  type Pebble,
  startBind9,
  startCluster,
  startIngressController,
  startPebble,
} from '@chousei/testenv';
import { chartDir, type OperatorName, packageDir } from './charts.ts';
import { type Steps, silentSteps } from './progress.ts';

export const OPERATORS: readonly OperatorName[] = ['dns-operator', 'cert-operator'];
export type { OperatorName };

/** The Deployments the charts make (a type the runtime does not carry). */
export interface Deployment extends KubeObject {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
}
export const Deployments = resourceType<Deployment>('apps/v1', 'Deployment', 'deployments', true);

/** The ClusterIssuer the cert-operator chart creates (its `clusterIssuers` value). */
export const ISSUER = 'pebble';
const LEASES: Record<OperatorName, string> = {
  'dns-operator': 'chousei-dns-operator',
  'cert-operator': 'chousei-cert-operator',
};

export interface ClusterStackOptions {
  /** The zone BIND9 serves and the dns-operator writes to. Default `chousei.test`. */
  zone?: string;
  steps?: Steps;
  /** Aborting it stops the start-up, and everything started is removed. */
  signal?: AbortSignal;
}

export interface ClusterStack {
  cluster: LocalCluster;
  /** An admin client. */
  client: Client;
  bind: Bind9;
  pebble: Pebble;
  ingress: IngressController;
  zone: string;
  /** Each operator's image, imported into the node. */
  images: Record<OperatorName, OperatorImage>;
  /** Milliseconds from `helm install` to both releases' Deployments Ready. */
  installMs: number;
  /** The chart values each release was installed with (image and endpoints only). */
  values: Record<OperatorName, Record<string, unknown>>;
  /** The Pod holding an operator's leader Lease, once one does. */
  leader(name: OperatorName): Promise<string>;
  stop(): Promise<void>;
}

/** The values each chart is installed with: its defaults, but for the image and endpoints. */
function chartValues(
  images: Record<OperatorName, OperatorImage>,
  bind: Bind9,
  pebble: Pebble,
  zone: string,
): Record<OperatorName, Record<string, unknown>> {
  const image = (name: OperatorName) => {
    const ref = images[name].name;
    const i = ref.lastIndexOf(':');
    return { repository: ref.slice(0, i), tag: ref.slice(i + 1), pullPolicy: 'Never' };
  };
  return {
    'dns-operator': {
      image: image('dns-operator'),
      // BIND9, as the node reaches it (port 53, the chart's default).
      'provider.name': 'rfc2136',
      'provider.rfc2136.host': NODE_ADDRESSES.host,
      'provider.rfc2136.zones': [zone],
      'provider.rfc2136.tsigKeyName': bind.tsig.name,
      'provider.rfc2136.tsigAlgorithm': bind.tsig.algorithm,
      'provider.rfc2136.tsigSecret.name': 'bind9-tsig',
    },
    'cert-operator': {
      image: image('cert-operator'),
      clusterIssuers: {
        [ISSUER]: {
          acme: {
            server: pebble.directoryUrl,
            email: `ops@${zone}`,
            privateKeySecretRef: { name: `${ISSUER}-account` },
            caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
            solvers: [{ http01: { ingress: {} } }],
          },
        },
      },
    },
  };
}

/** Builds both images (one at a time: two cores) while the servers and the cluster start. */
export async function startClusterStack(opts: ClusterStackOptions = {}): Promise<ClusterStack> {
  const zone = opts.zone ?? 'chousei.test';
  const steps = opts.steps ?? silentSteps;
  const undo: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const u of undo.splice(0).reverse()) await u().catch(() => {});
  };
  try {
    const building = (async () => {
      const images = {} as Record<OperatorName, OperatorImage>;
      for (const name of OPERATORS) {
        images[name] = await steps.step(`${name} image (buildah, its Dockerfile)`, () =>
          buildOperatorImage(packageDir(name)),
        );
      }
      return images;
    })();
    building.catch(() => {}); // Awaited below, once what started is registered for stop().
    const bind = await steps.step(`BIND9 serving ${zone}`, () => startBind9({ zones: [zone] }));
    undo.push(() => bind.stop());
    opts.signal?.throwIfAborted();
    const cluster = await steps.step('cluster (control plane, node Ready)', () =>
      startCluster({ dnsPort: bind.port }),
    );
    undo.push(() => cluster.stop());
    opts.signal?.throwIfAborted();
    const network = cluster.network;
    const [pebble, ingress] = await Promise.all([
      steps.step('Pebble in the node network', () =>
        startPebble({
          httpPort: 80,
          dnsServer: `${NODE_ADDRESSES.host}:53`,
          network: {
            address: NODE_ADDRESSES.host,
            exec: (command, args) => network.exec(command, args),
            expose: (target) => network.expose(target),
          },
        }),
      ),
      startIngressController(network, cluster.cp.kubeConfig),
    ]);
    undo.push(
      () => pebble.stop(),
      () => ingress.stop(),
    );
    const images = await building;
    await steps.step('images imported into the node', async () => {
      for (const image of Object.values(images)) await cluster.node.importImage(image);
    });

    const client = new Client(cluster.cp.kubeConfig);
    await cluster.cp.ensureNamespace('dns-operator');
    await client.create(Secrets, {
      metadata: { name: 'bind9-tsig', namespace: 'dns-operator' },
      stringData: { 'tsig-secret': bind.tsig.secret },
    });
    const values = chartValues(images, bind, pebble, zone);
    opts.signal?.throwIfAborted();
    const started = Date.now();
    await steps.step('helm install dns-operator, cert-operator (Deployments Ready)', () =>
      Promise.all(
        OPERATORS.map((name) =>
          installChart(chartDir(name), {
            release: name,
            namespace: name,
            kubeconfig: cluster.kubeconfig,
            set: values[name],
          }),
        ),
      ),
    );
    const installMs = Date.now() - started;
    await steps.step(`ClusterIssuer ${ISSUER} Ready`, () =>
      waitForCondition(client, ClusterIssuers, { name: ISSUER }, 'Ready', { timeoutMs: 60_000 }),
    );
    const leader = (name: OperatorName) => leaderPod(client, name);
    return {
      cluster,
      client,
      bind,
      pebble,
      ingress,
      zone,
      images,
      installMs,
      values,
      leader,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The Pod of `name`'s release that holds its leader Lease (its holderIdentity). */
export async function leaderPod(client: Client, name: OperatorName): Promise<string> {
  return waitFor(
    async () => {
      const lease = await client.get(Leases, { namespace: name, name: LEASES[name] });
      const holder = lease.spec?.holderIdentity ?? '';
      const pods = await client.list(Pods, { namespace: name });
      // The runtime's identity: the Pod's hostname (its name), then a random suffix.
      return pods.find((p) => holder.startsWith(`${p.metadata?.name}_`))?.metadata?.name;
    },
    { timeoutMs: 60_000, description: `a leader of ${name}` },
  );
}
