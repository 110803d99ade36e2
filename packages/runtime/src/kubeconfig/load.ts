import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type ClusterAccess, KubeconfigError } from './access.js';
import { inCluster, inClusterAccess } from './in-cluster.js';
import { type KubeconfigAccess, kubeconfigFromFiles } from './kubeconfig-file.js';

export interface LoadKubeConfigOptions {
  /** How often token, certificate, key and CA files are read again. Default 60 s. */
  rereadMs?: number;
  /** In-cluster: directory of `token` and `ca.crt`; default the kubelet's mount. For tests. */
  serviceAccountDir?: string;
  /** The kubeconfig context to use instead of current-context (kubectl's --context). */
  context?: string;
}

/**
 * Access to the API server without client-node (whose import costs ~95 MB), found as kubectl
 * finds it: `path` when given (that file alone); else the files of $KUBECONFIG merged as
 * kubectl merges them (the first to set current-context, or to name a cluster, user or
 * context, wins; missing files are skipped, as long as one exists); else ~/.kube/config when
 * it exists; else in-cluster (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount mount).
 * Token, certificate and key files are read again every `rereadMs` (default 60 s).
 */
export function loadKubeConfig(
  path?: string,
  opts: LoadKubeConfigOptions = {},
): ClusterAccess & Partial<KubeconfigAccess> {
  const fileOpts = {
    ...(opts.rereadMs === undefined ? {} : { rereadMs: opts.rereadMs }),
    ...(opts.context === undefined ? {} : { context: opts.context }),
  };
  if (path) return kubeconfigFromFiles([path], fileOpts);
  const listed = (process.env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (listed.length) {
    const present = listed.filter((p) => existsSync(p));
    if (!present.length) {
      throw new KubeconfigError(
        `no kubeconfig: none of the $KUBECONFIG files exists (${listed.join(', ')})`,
      );
    }
    return kubeconfigFromFiles(present, fileOpts);
  }
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigFromFiles([home], fileOpts);
  if (opts.context !== undefined) {
    throw new KubeconfigError(`context "${opts.context}" asked for, but there is no kubeconfig`);
  }
  if (inCluster()) return inClusterAccess(opts);
  throw new KubeconfigError(
    'no kubeconfig: none given, $KUBECONFIG unset, no ~/.kube/config, and not in a pod (KUBERNETES_SERVICE_HOST/PORT unset)',
  );
}
