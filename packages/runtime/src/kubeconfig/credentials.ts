import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import type { ClusterAccess, ClusterEndpoint } from './access.js';

/** How a request authenticates and checks the server; functions are read per refresh. */
export interface Credentials {
  cluster: ClusterEndpoint;
  ca?: () => Buffer;
  cert?: () => Buffer;
  key?: () => Buffer;
  token?: () => string;
  /** `user:password`, for basic auth. */
  basicAuth?: string;
  impersonateUser?: string;
  impersonateGroups?: string[];
}

/** A ClusterAccess from resolved credentials: files behind them are read again as they say. */
export class CredentialsAccess implements ClusterAccess {
  constructor(private readonly creds: Credentials) {}

  getCurrentCluster(): ClusterEndpoint {
    return this.creds.cluster;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const { cluster, ca, cert, key, token, basicAuth, impersonateUser, impersonateGroups } =
      this.creds;
    if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster.tlsServerName) opts.servername = cluster.tlsServerName;
    if (ca) opts.ca = ca();
    if (cert) opts.cert = cert();
    if (key) opts.key = key();
    if (basicAuth) opts.auth = basicAuth;
    const headers: OutgoingHttpHeaders = {};
    if (token) headers.authorization = `Bearer ${token()}`;
    if (impersonateUser) headers['impersonate-user'] = impersonateUser;
    if (impersonateGroups?.length) headers['impersonate-group'] = impersonateGroups;
    if (Object.keys(headers).length === 0) return;
    if (Array.isArray(opts.headers)) throw new Error('headers as a raw list are not supported');
    opts.headers = { ...opts.headers, ...headers };
  }
}
