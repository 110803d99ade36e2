// Gateway API's CRDs from its Go module (go/gateway-api pins the version), as
// build-controlplane.sh puts them in the cache. No Gateway controller runs in tests: they set
// Gateway and route status themselves, as a controller would.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { type Cluster, pinnedVersion } from './controlplane.js';
import { MissingDependencyError } from './errors.js';
import { cacheDir } from './tools.js';

/**
 * Gateway API's release channels. In v1.6 both serve every kind at v1 (Gateway, ListenerSet,
 * HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute); experimental adds fields, the older
 * alpha versions of TLS, TCP and UDP routes and the x-k8s.io kinds.
 */
export type GatewayApiChannel = 'standard' | 'experimental';

/** The pinned Gateway API version, e.g. `v1.6.3`. */
export function gatewayApiVersion(): string {
  return pinnedVersion('sigs.k8s.io/gateway-api', 'gateway-api');
}

/** The CRDs of one channel, from the module's config/crd/<channel>. */
export async function gatewayApiCrds(
  channel: GatewayApiChannel = 'standard',
): Promise<KubernetesObject[]> {
  const version = gatewayApiVersion();
  const root = join(cacheDir(), 'tools', `gateway-api-crds-${version}`);
  if (!existsSync(join(root, 'complete'))) {
    throw new MissingDependencyError(
      `the Gateway API ${version} CRDs (${root})`,
      'bash packages/testenv/scripts/build-controlplane.sh',
    );
  }
  const dir = join(root, channel);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
  return texts.flatMap((t) =>
    parseAllDocuments(t)
      .map((d) => d.toJS() as KubernetesObject | null)
      .filter((o): o is KubernetesObject => o?.kind === 'CustomResourceDefinition'),
  );
}

interface Crd extends KubernetesObject {
  spec: {
    group: string;
    names: { plural: string };
    versions: Array<{ name: string; served: boolean }>;
  };
}

/**
 * Installs one channel's CRDs on a control plane and waits until every served version lists
 * (a changed CRD answers 429 while its storage reinitializes). Applying the other channel
 * later replaces them (server-side apply, forced).
 */
export async function installGatewayApi(
  cluster: Cluster,
  channel: GatewayApiChannel = 'standard',
  timeoutMs = 30_000,
): Promise<KubernetesObject[]> {
  const applied = (await cluster.apply(await gatewayApiCrds(channel))) as Crd[];
  const api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (const { spec } of applied) {
    for (const v of spec.versions.filter((x) => x.served)) {
      const list = { group: spec.group, version: v.name, plural: spec.names.plural };
      while (
        !(await api.listClusterCustomObject({ ...list, limit: 1 }).then(
          () => true,
          () => false,
        ))
      ) {
        if (Date.now() > deadline)
          throw new Error(
            `${spec.names.plural}.${spec.group}/${v.name} not served after ${timeoutMs} ms`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return applied;
}
