import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { type ClusterAccess, type ClusterEndpoint, KubeconfigError } from './access.js';
import { type Credentials, CredentialsAccess } from './credentials.js';
import { DEFAULT_REREAD_MS, RereadFile } from './reread-file.js';

export interface KubeconfigFileOptions {
  /** How often token, certificate and key files are read again. Default 60 s. */
  rereadMs?: number;
}

type Fields = Record<string, unknown>;

/** Errors of one kubeconfig file, prefixed with its path and the entry they are about. */
class Where {
  constructor(
    readonly file: string,
    private readonly entry = '',
  ) {}

  in(entry: string): Where {
    return new Where(this.file, entry);
  }

  error(message: string): KubeconfigError {
    return new KubeconfigError(
      `kubeconfig ${this.file}: ${this.entry ? `${this.entry}: ` : ''}${message}`,
    );
  }
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Fields, key: string, where: Where): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw where.error(`${key} is not a string`);
  return value;
}

function bool(obj: Fields, key: string, where: Where): boolean {
  const value = obj[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw where.error(`${key} is not true or false`);
  return value;
}

function strings(obj: Fields, key: string, where: Where): string[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw where.error(`${key} is not a list of strings`);
  }
  return value;
}

/** The `kind` entry (`clusters`, `contexts`, `users`) called `name`: its inner map. */
function named(doc: Fields, list: string, kind: string, name: string, where: Where): Fields {
  const entries = doc[list];
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) {
    throw where.error(`${list} is not a list`);
  }
  const entry = (entries ?? []).find((e: unknown) => isFields(e) && e.name === name);
  if (!isFields(entry)) throw where.error(`${kind} "${name}" not found`);
  const inner = entry[kind];
  if (inner === undefined || inner === null) return {};
  if (!isFields(inner)) throw where.error(`${kind} "${name}": ${kind} is not a map`);
  return inner;
}

/** Decodes base64 as Go's decoder would accept it; Buffer.from alone never fails. */
function base64(value: string, key: string, where: Where): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw where.error(`${key} is not base64`);
  }
  const decoded = Buffer.from(compact, 'base64');
  if (decoded.length === 0) throw where.error(`${key} is empty`);
  return decoded;
}

/**
 * `<key>-data` inline or `<key>` as a file (relative to the kubeconfig's directory, read
 * again every `rereadMs`); both at once is an error, as for kubectl.
 */
function dataOrFile(
  obj: Fields,
  dataKey: string,
  fileKey: string,
  where: Where,
  rereadMs: number,
): (() => Buffer) | undefined {
  const data = str(obj, dataKey, where);
  const file = str(obj, fileKey, where);
  if (data && file) throw where.error(`both ${dataKey} and ${fileKey} are set`);
  if (data) {
    const decoded = base64(data, dataKey, where);
    return () => decoded;
  }
  if (!file) return undefined;
  const source = rereadFile(resolve(dirname(where.file), file), fileKey, where, rereadMs);
  return () => source.read();
}

function rereadFile(path: string, key: string, where: Where, rereadMs: number): RereadFile {
  try {
    return new RereadFile(path, rereadMs);
  } catch (err) {
    throw where.error(`${key}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function endpoint(cluster: Fields, name: string, where: Where): ClusterEndpoint {
  const server = str(cluster, 'server', where);
  if (!server) throw where.error('server is missing');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw where.error(`server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw where.error(`server "${server}" is not https`);
  if (cluster['proxy-url'] !== undefined) throw where.error('proxy-url is not supported');
  const tlsServerName = str(cluster, 'tls-server-name', where);
  return {
    name,
    server,
    skipTLSVerify: bool(cluster, 'insecure-skip-tls-verify', where),
    ...(tlsServerName ? { tlsServerName } : {}),
  };
}

/**
 * For `exec` and `auth-provider` users (cloud CLIs on a laptop): client-node's KubeConfig
 * runs them. Imported only here, so its ~95 MB of memory is paid only by such users; it is
 * an optional peer dependency, absent from the operators' images.
 */
class ClientNodeAccess implements ClusterAccess {
  private loaded: Promise<ClusterAccess> | undefined;

  constructor(
    private readonly file: string,
    private readonly context: string,
    private readonly cluster: ClusterEndpoint,
  ) {}

  getCurrentCluster(): ClusterEndpoint {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    this.loaded ??= import('@kubernetes/client-node').then(
      ({ KubeConfig }) => {
        const kc = new KubeConfig();
        kc.loadFromFile(this.file);
        kc.setCurrentContext(this.context);
        return kc;
      },
      (err: unknown) => {
        throw new KubeconfigError(
          `kubeconfig ${this.file}: context "${this.context}" authenticates with exec or auth-provider, which needs @kubernetes/client-node installed beside @chousei/runtime`,
          { cause: err },
        );
      },
    );
    await (await this.loaded).applyToHTTPSOptions(opts);
  }
}

/**
 * A kubeconfig file's current context: cluster (server, CA, insecure-skip-tls-verify,
 * tls-server-name) and user (client certificate and key, token or tokenFile, basic auth,
 * impersonation; exec and auth-provider through client-node). Throws KubeconfigError
 * naming the file and the entry and field that is missing or invalid.
 */
export function kubeconfigFromFile(file: string, opts: KubeconfigFileOptions = {}): ClusterAccess {
  const rereadMs = opts.rereadMs ?? DEFAULT_REREAD_MS;
  const top = new Where(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw top.error(err instanceof Error ? err.message : String(err));
  }
  let doc: unknown;
  try {
    doc = parse(text, { logLevel: 'error' });
  } catch (err) {
    throw top.error(`invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isFields(doc)) throw top.error('not a kubeconfig (no map at the top)');

  const contextName = str(doc, 'current-context', top);
  if (!contextName) throw top.error('current-context is not set');
  const context = named(doc, 'contexts', 'context', contextName, top);
  const inContext = top.in(`context "${contextName}"`);
  const clusterName = str(context, 'cluster', inContext);
  if (!clusterName) throw inContext.error('cluster is not set');
  const userName = str(context, 'user', inContext);

  const inCluster = top.in(`cluster "${clusterName}"`);
  const clusterFields = named(doc, 'clusters', 'cluster', clusterName, top);
  const cluster = endpoint(clusterFields, clusterName, inCluster);
  const ca = dataOrFile(
    clusterFields,
    'certificate-authority-data',
    'certificate-authority',
    inCluster,
    rereadMs,
  );
  // No user is allowed (anonymous requests), as in kubectl.
  if (!userName) return new CredentialsAccess({ cluster, ...(ca ? { ca } : {}) });

  const user = named(doc, 'users', 'user', userName, top);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    return new ClientNodeAccess(file, contextName, cluster);
  }
  const inUser = top.in(`user "${userName}"`);
  const creds: Credentials = { cluster, ...(ca ? { ca } : {}) };
  const cert = dataOrFile(user, 'client-certificate-data', 'client-certificate', inUser, rereadMs);
  const key = dataOrFile(user, 'client-key-data', 'client-key', inUser, rereadMs);
  if (!cert !== !key) {
    throw inUser.error(
      cert ? 'client certificate without client key' : 'client key without client certificate',
    );
  }
  if (cert && key) {
    creds.cert = cert;
    creds.key = key;
  }
  // token wins over tokenFile, as the kubeconfig reference says.
  const token = str(user, 'token', inUser);
  const tokenFile = str(user, 'tokenFile', inUser);
  if (token) creds.token = () => token;
  else if (tokenFile) {
    const source = rereadFile(resolve(dirname(file), tokenFile), 'tokenFile', inUser, rereadMs);
    creds.token = () => source.read().toString('utf8').trim();
  }
  const username = str(user, 'username', inUser);
  if (username) creds.basicAuth = `${username}:${str(user, 'password', inUser) ?? ''}`;
  const as = str(user, 'as', inUser);
  if (as) creds.impersonateUser = as;
  const groups = strings(user, 'as-groups', inUser);
  if (groups.length) creds.impersonateGroups = groups;
  return new CredentialsAccess(creds);
}
