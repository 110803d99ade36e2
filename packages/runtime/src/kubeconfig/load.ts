import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type ClusterAccess, KubeconfigError } from './access.js';
import { inCluster, inClusterAccess } from './in-cluster.js';
import { kubeconfigFromFile } from './kubeconfig-file.js';

export interface LoadKubeConfigOptions {
  /** How often token, certificate, key and CA files are read again. Default 60 s. */
  rereadMs?: number;
  /** In-cluster: directory of `token` and `ca.crt`; default the kubelet's mount. For tests. */
  serviceAccountDir?: string;
}

/**
 * Access to the API server without client-node (whose import costs ~95 MB), found as
 * client-node's `loadFromDefault` finds it: `path` when given; else the first file of
 * $KUBECONFIG (a list is not merged: the others are ignored); else ~/.kube/config when it
 * exists; else in-cluster (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount mount).
 * Token, certificate and key files are read again every `rereadMs` (default 60 s).
 */
export function loadKubeConfig(path?: string, opts: LoadKubeConfigOptions = {}): ClusterAccess {
  const fileOpts = opts.rereadMs === undefined ? {} : { rereadMs: opts.rereadMs };
  if (path) return kubeconfigFromFile(path, fileOpts);
  const fromEnv = process.env.KUBECONFIG?.split(delimiter).find((p) => p !== '');
  if (fromEnv) return kubeconfigFromFile(fromEnv, fileOpts);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigFromFile(home, fileOpts);
  if (inCluster()) return inClusterAccess(opts);
  throw new KubeconfigError(
    'no kubeconfig: none given, $KUBECONFIG unset, no ~/.kube/config, and not in a pod (KUBERNETES_SERVICE_HOST/PORT unset)',
  );
}
