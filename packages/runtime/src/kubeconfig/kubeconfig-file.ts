import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
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
    readonly entry = '',
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

/** A cluster, user or context entry, and the file it came from (its paths are relative to it). */
interface Entry {
  fields: Fields;
  where: Where;
}

type Kind = 'cluster' | 'user' | 'context';

/**
 * Kubeconfig files merged as kubectl merges a $KUBECONFIG list: the first file to set
 * current-context wins, and so does the first file to name a cluster, user or context (the
 * whole entry: a later file's entry of the same name is ignored, even its other fields).
 */
interface Merged {
  files: string[];
  currentContext?: { name: string; where: Where };
  entries: Record<Kind, Map<string, Entry>>;
}

function readDocument(file: string): Fields {
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
  // An empty file is an empty kubeconfig, as for kubectl.
  if (doc === null || doc === undefined) return {};
  if (!isFields(doc)) throw top.error('not a kubeconfig (no map at the top)');
  return doc;
}

function merge(files: string[]): Merged {
  const merged: Merged = {
    files,
    entries: { cluster: new Map(), user: new Map(), context: new Map() },
  };
  for (const file of files) {
    const doc = readDocument(file);
    const top = new Where(file);
    const current = str(doc, 'current-context', top);
    if (current && !merged.currentContext) merged.currentContext = { name: current, where: top };
    for (const kind of ['cluster', 'user', 'context'] as const) {
      const list = doc[`${kind}s`];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw top.error(`${kind}s is not a list`);
      for (const entry of list) {
        if (!isFields(entry) || typeof entry.name !== 'string') {
          throw top.error(`${kind}s: an entry without a name`);
        }
        const where = top.in(`${kind} "${entry.name}"`);
        const inner = entry[kind] ?? {};
        if (!isFields(inner)) throw where.error(`${kind} is not a map`);
        const known = merged.entries[kind];
        if (!known.has(entry.name)) known.set(entry.name, { fields: inner, where });
      }
    }
  }
  return merged;
}

/** The entry called `name`, or an error naming the files looked in. */
function named(merged: Merged, kind: Kind, name: string): Entry {
  const entry = merged.entries[kind].get(name);
  if (entry) return entry;
  const known = [...merged.entries[kind].keys()].join(', ') || 'none';
  throw new KubeconfigError(
    `kubeconfig ${merged.files.join(', ')}: ${kind} "${name}" not found (${kind}s: ${known})`,
  );
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
  const proxyUrl = str(cluster, 'proxy-url', where);
  if (proxyUrl !== undefined) {
    let proxy: URL | undefined;
    try {
      proxy = new URL(proxyUrl);
    } catch {}
    // kubectl also takes socks5: the runtime tunnels with HTTP CONNECT only.
    if (proxy?.protocol !== 'http:' && proxy?.protocol !== 'https:') {
      throw where.error(`proxy-url "${proxyUrl}" is not an http:// or https:// URL`);
    }
  }
  const tlsServerName = str(cluster, 'tls-server-name', where);
  return {
    name,
    server,
    skipTLSVerify: bool(cluster, 'insecure-skip-tls-verify', where),
    ...(tlsServerName ? { tlsServerName } : {}),
    ...(proxyUrl ? { proxyUrl } : {}),
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
    /** A kubeconfig of the one context, as merged. */
    private readonly document: Fields,
    /** Where the user entry came from: its relative paths start there. */
    private readonly user: Where,
    private readonly cluster: ClusterEndpoint,
  ) {}

  getCurrentCluster(): ClusterEndpoint {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    this.loaded ??= import('@kubernetes/client-node').then(
      ({ KubeConfig }) => {
        const kc = new KubeConfig();
        kc.loadFromString(stringify(this.document));
        kc.makePathsAbsolute(dirname(this.user.file));
        return kc;
      },
      (err: unknown) => {
        throw new KubeconfigError(
          `kubeconfig ${this.user.file}: ${this.user.entry} authenticates with exec or auth-provider, which needs @kubernetes/client-node installed beside @chousei/runtime`,
          { cause: err },
        );
      },
    );
    await (await this.loaded).applyToHTTPSOptions(opts);
  }
}

export interface KubeconfigFilesOptions extends KubeconfigFileOptions {
  /** The context to use instead of current-context (kubectl's --context). */
  context?: string;
}

/** What a kubeconfig's context gives: access to its cluster, and its namespace. */
export interface KubeconfigAccess extends ClusterAccess {
  readonly context: string;
  /** The context's namespace, when it names one. */
  readonly namespace: string | undefined;
}

/**
 * A kubeconfig file's current context: cluster (server, CA, insecure-skip-tls-verify,
 * tls-server-name, proxy-url) and user (client certificate and key, token or tokenFile, basic
 * auth, impersonation; exec and auth-provider through client-node). Throws KubeconfigError
 * naming the file and the entry and field that is missing or invalid.
 */
export function kubeconfigFromFile(
  file: string,
  opts: KubeconfigFilesOptions = {},
): KubeconfigAccess {
  return kubeconfigFromFiles([file], opts);
}

/**
 * The same for several files merged as kubectl merges a $KUBECONFIG list (see Merged); each
 * entry's relative paths are relative to its own file.
 */
export function kubeconfigFromFiles(
  files: string[],
  opts: KubeconfigFilesOptions = {},
): KubeconfigAccess {
  const merged = merge(files);
  const contextName = opts.context ?? merged.currentContext?.name;
  if (!contextName) {
    throw new KubeconfigError(`kubeconfig ${files.join(', ')}: current-context is not set`);
  }
  const context = named(merged, 'context', contextName);
  const clusterName = str(context.fields, 'cluster', context.where);
  if (!clusterName) throw context.where.error('cluster is not set');
  const userName = str(context.fields, 'user', context.where);
  const namespace = str(context.fields, 'namespace', context.where);
  const about = { context: contextName, namespace };
  const access = (a: ClusterAccess): KubeconfigAccess => Object.assign(a, about);

  const clusterEntry = named(merged, 'cluster', clusterName);
  const cluster = endpoint(clusterEntry.fields, clusterName, clusterEntry.where);
  const rereadMs = opts.rereadMs ?? DEFAULT_REREAD_MS;
  const ca = dataOrFile(
    clusterEntry.fields,
    'certificate-authority-data',
    'certificate-authority',
    clusterEntry.where,
    rereadMs,
  );
  // No user is allowed (anonymous requests), as in kubectl.
  if (!userName) return access(new CredentialsAccess({ cluster, ...(ca ? { ca } : {}) }));

  const { fields: user, where: inUser } = named(merged, 'user', userName);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    const document = {
      'current-context': contextName,
      contexts: [{ name: contextName, context: context.fields }],
      clusters: [{ name: clusterName, cluster: absolutePaths(clusterEntry) }],
      users: [{ name: userName, user }],
    };
    return access(new ClientNodeAccess(document, inUser, cluster));
  }
  return access(new CredentialsAccess(userCredentials(user, inUser, cluster, ca, rereadMs)));
}

/** A cluster entry with its CA file made absolute, for client-node reading it elsewhere. */
function absolutePaths({ fields, where }: Entry): Fields {
  const file = str(fields, 'certificate-authority', where);
  return file ? { ...fields, 'certificate-authority': resolve(dirname(where.file), file) } : fields;
}

function userCredentials(
  user: Fields,
  inUser: Where,
  cluster: ClusterEndpoint,
  ca: (() => Buffer) | undefined,
  rereadMs: number,
): Credentials {
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
    const path = resolve(dirname(inUser.file), tokenFile);
    const source = rereadFile(path, 'tokenFile', inUser, rereadMs);
    creds.token = () => source.read().toString('utf8').trim();
  }
  const username = str(user, 'username', inUser);
  if (username) creds.basicAuth = `${username}:${str(user, 'password', inUser) ?? ''}`;
  const as = str(user, 'as', inUser);
  if (as) creds.impersonateUser = as;
  const groups = strings(user, 'as-groups', inUser);
  if (groups.length) creds.impersonateGroups = groups;
  return creds;
}
