// Both operators installed as users install them: their images, built from the shipped
// Dockerfiles, run as Pods of a one-node cluster (testenv's startCluster).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Client } from '@chousei/runtime';
import {
  buildOperatorImage,
  type LocalCluster,
  type OperatorImage,
  startCluster,
} from '@chousei/testenv';
import { type Steps, silentSteps } from './progress.ts';

export type OperatorName = 'dns-operator' | 'cert-operator';
export const OPERATORS: readonly OperatorName[] = ['dns-operator', 'cert-operator'];

const require = createRequire(import.meta.url);
/** An operator's package directory, found through the workspace dependency on it. */
export const packageDir = (name: OperatorName) =>
  dirname(dirname(require.resolve(`@chousei/${name}`)));

export interface ClusterStackOptions {
  steps?: Steps;
}

export interface ClusterStack {
  cluster: LocalCluster;
  /** An admin client. */
  client: Client;
  /** Each operator's image, imported into the node. */
  images: Record<OperatorName, OperatorImage>;
  stop(): Promise<void>;
}

/** Builds both images (one at a time: two cores) while the cluster starts, then imports them. */
export async function startClusterStack(opts: ClusterStackOptions = {}): Promise<ClusterStack> {
  const steps = opts.steps ?? silentSteps;
  const building = (async () => {
    const images = {} as Record<OperatorName, OperatorImage>;
    for (const name of OPERATORS) {
      images[name] = await steps.step(`${name} image (buildah, its Dockerfile)`, () =>
        buildOperatorImage(packageDir(name)),
      );
    }
    return images;
  })();
  const starting = steps.step('cluster (control plane, node Ready)', () => startCluster());
  const [built, started] = await Promise.allSettled([building, starting]);
  if (started.status === 'rejected') throw started.reason;
  const cluster = started.value;
  try {
    if (built.status === 'rejected') throw built.reason;
    const images = built.value;
    await steps.step('images imported into the node', async () => {
      for (const image of Object.values(images)) await cluster.node.importImage(image);
    });
    return { cluster, client: new Client(cluster.cp.kubeConfig), images, stop: cluster.stop };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
