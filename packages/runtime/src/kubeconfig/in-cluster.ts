import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { type ClusterAccess, KubeconfigError } from './access.js';
import { CredentialsAccess } from './credentials.js';
import { DEFAULT_REREAD_MS, RereadFile } from './reread-file.js';

/** Where the kubelet mounts a pod's ServiceAccount token and the cluster CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions {
  /** Directory of `token` and `ca.crt`; default the kubelet's mount. For tests. */
  serviceAccountDir?: string;
  /** How often the token and CA are read again. Default 60 s, as in client-go. */
  rereadMs?: number;
}

/** True when the environment names the API server, as it does in every pod. */
export function inCluster(): boolean {
  return !!process.env.KUBERNETES_SERVICE_HOST && !!process.env.KUBERNETES_SERVICE_PORT;
}

/**
 * The pod's own access: the API server from KUBERNETES_SERVICE_HOST/PORT, the mounted
 * ServiceAccount token and CA, both read again every `rereadMs` (bound tokens rotate).
 */
export function inClusterAccess(opts: InClusterOptions = {}): ClusterAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeconfigError(
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set',
    );
  }
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const rereadMs = opts.rereadMs ?? DEFAULT_REREAD_MS;
  const file = (name: string) => {
    try {
      return new RereadFile(join(dir, name), rereadMs);
    } catch (err) {
      throw new KubeconfigError(
        `in-cluster configuration: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const token = file('token');
  const ca = file('ca.crt');
  return new CredentialsAccess({
    cluster: { name: 'in-cluster', server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}` },
    ca: () => ca.read(),
    token: () => token.read().toString('utf8').trim(),
  });
}
