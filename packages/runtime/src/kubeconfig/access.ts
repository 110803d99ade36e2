import type { RequestOptions } from 'node:https';

/** The API server a ClusterAccess points at. client-node's `Cluster` is one. */
export interface ClusterEndpoint {
  readonly name?: string;
  /** `https://host:port`, maybe with a path prefix. */
  readonly server: string;
  readonly skipTLSVerify?: boolean;
  readonly tlsServerName?: string;
  /** An http:// or https:// proxy the connections tunnel through (HTTP CONNECT). */
  readonly proxyUrl?: string;
}

/**
 * What the runtime needs of a kubeconfig: the API server, and the TLS options and headers
 * of a request to it. client-node's KubeConfig satisfies it as it is, so tests and users
 * can keep passing one; `loadKubeConfig` gives one without loading client-node.
 */
export interface ClusterAccess {
  getCurrentCluster(): ClusterEndpoint | null;
  /**
   * Sets `ca`, `cert`, `key`, `rejectUnauthorized`, `servername`, `auth` and auth headers
   * on `opts`. Called again from time to time, so rotated credentials are picked up.
   */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** A kubeconfig (or in-cluster configuration) that cannot be used, naming file and field. */
export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}
