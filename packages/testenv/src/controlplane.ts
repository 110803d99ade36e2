import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { MissingDependencyError } from './errors.js';
import { createCA, type IssueOptions, issueCert, type KeyPair, loadKeyPair } from './pki.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';
import { cacheDir } from './tools.js';

const goDir = fileURLToPath(new URL('../go/', import.meta.url));
/** Builds the control plane and the other Go-built test servers and tools into the cache. */
const buildScript = fileURLToPath(new URL('../scripts/build-controlplane.sh', import.meta.url));

/** The version of `module` a wrapper module in ../go pins. */
export function pinnedVersion(module: string, gomod: string): string {
  const text = readFileSync(join(goDir, gomod, 'go.mod'), 'utf8');
  const match = new RegExp(`^require ${module.replace(/\./g, '\\.')} (\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`no pinned version of ${module} in go/${gomod}/go.mod`);
  return match[1];
}

/**
 * A tool built from the Go module proxy (`go/<name>` pins its module): `$envVar`, else the
 * cache build-controlplane.sh fills (`binary` when the module builds more than one; the
 * cache folder keyed by the version, and by a hash of `hashed` files of go/<name> when
 * the module has sources of its own). Throws with the build command when missing.
 */
export function goBuiltTool(
  name: 'helm' | 'pebble' | 'external-dns' | 'cert-manager',
  module: string,
  envVar: string,
  opts: { binary?: string; hashed?: string[] } = {},
): string {
  const explicit = process.env[envVar];
  if (explicit) return explicit;
  const binary = opts.binary ?? name;
  const version = pinnedVersion(module, name);
  const hash = opts.hashed?.length
    ? `-${createHash('sha256')
        .update(Buffer.concat(opts.hashed.map((f) => readFileSync(join(goDir, name, f)))))
        .digest('hex')
        .slice(0, 8)}`
    : '';
  const path = join(cacheDir(), 'tools', `${name}-${version}${hash}`, binary);
  if (!existsSync(path)) {
    throw new MissingDependencyError(`${binary} ${version} (${path})`, `bash ${buildScript}`);
  }
  return path;
}

/** The pinned versions of the control plane binaries, read from the wrapper modules. */
export const CONTROL_PLANE_VERSIONS = {
  kubernetes: pinnedVersion('k8s.io/kubernetes', 'kube'),
  etcd: pinnedVersion('go.etcd.io/etcd/server/v3', 'etcd'),
};

// One line per request once it is answered: who did what to which resource, no bodies.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

type Binary =
  | 'kube-apiserver'
  | 'etcd'
  | 'kubectl'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubelet'
  | 'kube-proxy';
const ASSET_ENV: Record<Binary, string> = {
  'kube-apiserver': 'TEST_ASSET_KUBE_APISERVER',
  etcd: 'TEST_ASSET_ETCD',
  kubectl: 'TEST_ASSET_KUBECTL',
  'kube-controller-manager': 'TEST_ASSET_KUBE_CONTROLLER_MANAGER',
  'kube-scheduler': 'TEST_ASSET_KUBE_SCHEDULER',
  kubelet: 'TEST_ASSET_KUBELET',
  'kube-proxy': 'TEST_ASSET_KUBE_PROXY',
};

/**
 * Path of a control plane binary: TEST_ASSET_* first, then KUBEBUILDER_ASSETS, then the
 * cache that build-controlplane.sh fills. Throws with the build command when missing.
 */
export function controlPlaneBinary(name: Binary): string {
  const explicit = process.env[ASSET_ENV[name]];
  if (explicit) return explicit;
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) return join(assets, name);
  const { kubernetes, etcd } = CONTROL_PLANE_VERSIONS;
  const path = join(cacheDir(), 'controlplane', `kube-${kubernetes}-etcd-${etcd}`, name);
  if (!existsSync(path)) {
    const version = name === 'etcd' ? etcd : kubernetes;
    throw new MissingDependencyError(`${name} ${version} (${path})`, `bash ${buildScript}`);
  }
  return path;
}

export interface ControlPlaneOptions {
  /** Start timeout for each server, default 30 s. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. `--watch-cache=false`. */
  apiServerFlags?: string[];
  /** Log every request's metadata (user, verb, resource) to `auditLogPath`, as JSON lines. */
  auditLog?: boolean;
  /** Serve a node (`startCluster`): see `NodeServing`. */
  node?: NodeServing;
}

/**
 * What a control plane needs to serve a node in a network namespace of its own: the address
 * where the node reaches it (the `kubernetes` Service's endpoint, in the serving
 * certificate), and the CONNECT proxy on a Unix socket through which it reaches the node
 * (webhooks by Service, kubelets, Pods: kube-apiserver's `cluster` egress). Nodes are then
 * authorized by the Node authorizer, and Pods get their ServiceAccount token mounted.
 */
export interface NodeServing {
  address: string;
  egressSocket: string;
}

/** The `cluster` egress (webhooks, kubelets, Pods) through a CONNECT proxy on a Unix socket. */
const egressSelector = (socket: string) => `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
  - name: cluster
    connection:
      proxyProtocol: HTTPConnect
      transport:
        uds:
          udsName: ${socket}
  - name: controlplane
    connection:
      proxyProtocol: Direct
  - name: etcd
    connection:
      proxyProtocol: Direct
`;

/** kube-apiserver flags of a control plane serving a node; its files go to `dir`. */
async function nodeServingFlags(
  node: NodeServing,
  dir: string,
  ca: KeyPair,
  admin: KeyPair,
): Promise<string[]> {
  const config = join(dir, 'egress-selector.yaml');
  await writeFile(config, egressSelector(node.egressSocket));
  return [
    `--advertise-address=${node.address}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--egress-selector-config-file=${config}`,
    // The API server as kubelets' client (logs, exec): an admin certificate.
    `--kubelet-client-certificate=${admin.certPath}`,
    `--kubelet-client-key=${admin.keyPath}`,
    `--kubelet-certificate-authority=${ca.certPath}`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

/** What a test process needs to reach a running control plane: files, no processes. */
export interface ClusterHandle {
  url: string;
  dir: string;
  caCertPath: string;
  caKeyPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** Set when the control plane was started with `auditLog`. */
  auditLogPath?: string;
}

/** The Service range (ClusterIPs) of every control plane testenv starts. */
export const SERVICE_RANGE = '10.0.0.0/24';

/**
 * Access to a running control plane: admin client, kubeconfigs for any user or
 * ServiceAccount, apply, namespaces. `ControlPlane` owns the processes; `Cluster.attach`
 * reaches one started elsewhere (e.g. by the vitest global setup).
 */
export class Cluster {
  /** An admin (system:masters) client configuration. */
  readonly kubeConfig: KubeConfig;

  protected constructor(
    readonly url: string,
    readonly dir: string,
    protected readonly ca: KeyPair,
    protected readonly admin: KeyPair,
    readonly auditLogPath?: string,
  ) {
    this.kubeConfig = this.clientConfig('admin', admin);
  }

  static async attach(handle: ClusterHandle): Promise<Cluster> {
    const [ca, admin] = await Promise.all([
      loadKeyPair(handle.caCertPath, handle.caKeyPath),
      loadKeyPair(handle.adminCertPath, handle.adminKeyPath),
    ]);
    return new Cluster(handle.url, handle.dir, ca, admin, handle.auditLogPath);
  }

  get handle(): ClusterHandle {
    return {
      url: this.url,
      dir: this.dir,
      caCertPath: this.ca.certPath,
      caKeyPath: this.ca.keyPath,
      adminCertPath: this.admin.certPath,
      adminKeyPath: this.admin.keyPath,
      ...(this.auditLogPath ? { auditLogPath: this.auditLogPath } : {}),
    };
  }

  /** PEM of the cluster CA (serving and client certificates). */
  get caPem(): string {
    return this.ca.certPem;
  }

  protected clientConfig(
    user: string,
    creds: { token?: string; pair?: KeyPair } | KeyPair,
  ): KubeConfig {
    const pair = 'certPem' in creds ? creds : creds.pair;
    const token = 'certPem' in creds ? undefined : creds.token;
    const kc = new KubeConfig();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    kc.loadFromOptions({
      clusters: [{ name: 'chousei-test', server: this.url, caData: b64(this.ca.certPem) }],
      users: [
        {
          name: user,
          ...(pair ? { certData: b64(pair.certPem), keyData: b64(pair.keyPem) } : {}),
          ...(token ? { token } : {}),
        },
      ],
      contexts: [{ name: user, cluster: 'chousei-test', user }],
      currentContext: user,
    });
    return kc;
  }

  /** A certificate signed by the cluster CA (e.g. a kubelet's serving certificate). */
  issueCertificate(file: string, opts: IssueOptions): Promise<KeyPair> {
    return issueCert(this.ca, this.dir, file, opts);
  }

  /** The cluster CA certificate's file. */
  get caCertPath(): string {
    return this.ca.certPath;
  }

  /** A client configuration for any user name and groups, by client certificate. */
  async userKubeConfig(user: string, groups: string[] = []): Promise<KubeConfig> {
    const file = `user-${randomBytes(4).toString('hex')}`;
    const pair = await issueCert(this.ca, this.dir, file, {
      commonName: user,
      organizations: groups,
      usage: 'client',
    });
    return this.clientConfig(user, pair);
  }

  /**
   * A client configuration for a ServiceAccount (created when missing), with a token from
   * the TokenRequest API: exactly the permissions its RBAC bindings grant.
   */
  async serviceAccountKubeConfig(
    namespace: string,
    name: string,
    expirationSeconds = 3600,
  ): Promise<KubeConfig> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await this.ensureNamespace(namespace);
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    const tr = await core.createNamespacedServiceAccountToken({
      namespace,
      name,
      body: { spec: { audiences: [], expirationSeconds } },
    });
    const token = tr.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    return this.clientConfig(`system:serviceaccount:${namespace}:${name}`, { token });
  }

  /** Creates a namespace if it does not exist yet. */
  async ensureNamespace(name: string): Promise<void> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }

  /** A fresh namespace with a random suffix, for test isolation on a shared control plane. */
  async createNamespace(prefix = 'test'): Promise<string> {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await this.ensureNamespace(name);
    return name;
  }

  /**
   * Server-side applies every object of a YAML text (or a list of objects), in order, as
   * raw JSON (client-node's models would drop fields such as
   * x-kubernetes-preserve-unknown-fields). Waits for applied CRDs to be established.
   */
  async apply(
    manifests: string | KubernetesObject[],
    opts: { dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<KubernetesObject[]> {
    const objects =
      typeof manifests === 'string'
        ? parseAllDocuments(manifests)
            .map((d) => d.toJS() as KubernetesObject | null)
            .filter((o): o is KubernetesObject => !!o)
        : manifests;
    const applied: KubernetesObject[] = [];
    for (const obj of objects) {
      const { apiVersion = '', kind = '', metadata = {} } = obj;
      const resource = await this.discover(apiVersion, kind);
      const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const ns = resource.namespaced ? `/namespaces/${metadata.namespace ?? 'default'}` : '';
      const query = new URLSearchParams({
        fieldManager: opts.fieldManager ?? 'chousei-testenv',
        force: 'true',
        ...(opts.dryRun ? { dryRun: 'All' } : {}),
      });
      const path = `${base}${ns}/${resource.name}/${metadata.name}?${query}`;
      const res = await this.rawRequest('PATCH', path, obj, 'application/apply-patch+yaml');
      if (res.status >= 300) {
        throw new Error(
          `apply ${kind} ${metadata.namespace ?? ''}/${metadata.name}: HTTP ${res.status}: ${res.body}`,
        );
      }
      applied.push(JSON.parse(res.body) as KubernetesObject);
    }
    const crds = applied.filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata?.name);
    if (crds.length && !opts.dryRun) await this.waitForCRDs(crds.map((c) => c.metadata!.name!));
    return applied;
  }

  private readonly discovery = new Map<
    string,
    Array<{ name: string; kind: string; namespaced: boolean }>
  >();

  /** The REST resource of a kind, from API discovery (refreshed once on a miss). */
  private async discover(apiVersion: string, kind: string) {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0 || !this.discovery.has(apiVersion)) {
        const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
        const res = await this.rawRequest('GET', path);
        if (res.status === 200) {
          const list = JSON.parse(res.body) as {
            resources: Array<{ name: string; kind: string; namespaced: boolean }>;
          };
          this.discovery.set(
            apiVersion,
            list.resources.filter((r) => !r.name.includes('/')),
          );
        }
      }
      const found = this.discovery.get(apiVersion)?.find((r) => r.kind === kind);
      if (found) return found;
    }
    throw new Error(`the API server does not serve kind ${kind} in ${apiVersion}`);
  }

  /** A request as the admin user, answering status and body text. */
  protected rawRequest(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method,
          ca: this.ca.certPem,
          cert: this.admin.certPem,
          key: this.admin.keyPem,
          headers: payload ? { 'content-type': contentType } : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Waits until every named CRD reports Established (its API is served). */
  async waitForCRDs(names: string[], timeoutMs = 10_000): Promise<void> {
    const ext = this.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const deadline = Date.now() + timeoutMs;
    for (const name of names) {
      for (;;) {
        const crd = await ext.readCustomResourceDefinition({ name });
        const established = crd.status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
        if (established) break;
        if (Date.now() > deadline)
          throw new Error(`CRD ${name} not established after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** The admin kubeconfig as YAML, e.g. for kubectl or an operator process. */
  kubeconfigYaml(kc: KubeConfig = this.kubeConfig): string {
    return kc.exportConfig();
  }

  /** Writes a kubeconfig file and returns its path. */
  async writeKubeconfig(kc: KubeConfig = this.kubeConfig, name = 'kubeconfig'): Promise<string> {
    const path = join(this.dir, name);
    await writeFile(path, kc.exportConfig(), { mode: 0o600 });
    return path;
  }
}

/** A real etcd + kube-apiserver on free loopback ports, with an admin client. */
export class ControlPlane extends Cluster {
  private apiServer!: ServerProcess;
  private etcd!: ServerProcess;

  private constructor(
    url: string,
    dir: string,
    ca: KeyPair,
    admin: KeyPair,
    private readonly apiServerBinary: string,
    private readonly apiServerArgs: string[],
    private readonly timeoutMs: number,
    auditLogPath?: string,
  ) {
    super(url, dir, ca, admin, auditLogPath);
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const timeoutMs = opts.startTimeoutMs ?? 30_000;
    const kubeApiServer = controlPlaneBinary('kube-apiserver');
    const etcdBin = controlPlaneBinary('etcd');
    const dir = await mkdtemp(join(tmpdir(), 'chousei-cp-'));
    let etcd: ServerProcess | undefined;
    let cp: ControlPlane | undefined;
    try {
      const [ca, etcdPort, peerPort, apiPort] = await Promise.all([
        createCA(dir, 'cluster-ca'),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const [serving, admin] = await Promise.all([
        issueCert(ca, dir, 'apiserver', {
          commonName: 'kube-apiserver',
          dnsNames: ['localhost', 'kubernetes', 'kubernetes.default.svc'],
          ipAddresses: ['127.0.0.1', '10.0.0.1', ...(opts.node ? [opts.node.address] : [])],
          usage: 'server',
        }),
        issueCert(ca, dir, 'admin', {
          commonName: 'admin',
          organizations: ['system:masters'],
          usage: 'client',
        }),
      ]);
      const { saKey, saPub } = await writeServiceAccountKeys(dir);

      const etcdUrl = `http://127.0.0.1:${etcdPort}`;
      etcd = new ServerProcess({
        name: 'etcd',
        command: etcdBin,
        args: etcdArgs(dir, etcdUrl, peerPort),
      });
      const etcdReady = waitUntilReady(
        etcd,
        async () => (await fetch(`${etcdUrl}/health`)).ok,
        timeoutMs,
        50,
      );

      const url = `https://127.0.0.1:${apiPort}`;
      const auditLogPath = opts.auditLog ? join(dir, 'audit.log') : undefined;
      if (auditLogPath) await writeFile(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
      const apiServerArgs = [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${serving.certPath}`,
        `--tls-private-key-file=${serving.keyPath}`,
        `--client-ca-file=${ca.certPath}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        `--service-cluster-ip-range=${SERVICE_RANGE}`,
        '--allow-privileged=true',
        // Without a node, no controller makes the ServiceAccounts that admission requires.
        ...(opts.node
          ? await nodeServingFlags(opts.node, dir, ca, admin)
          : [
              '--advertise-address=127.0.0.1',
              '--authorization-mode=RBAC',
              '--disable-admission-plugins=ServiceAccount',
            ]),
        `--service-account-issuer=${url}/`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        '--v=1',
        ...(auditLogPath ? auditFlags(dir, auditLogPath) : []),
        ...(opts.apiServerFlags ?? []),
      ];
      await etcdReady;
      cp = new ControlPlane(
        url,
        dir,
        ca,
        admin,
        kubeApiServer,
        apiServerArgs,
        timeoutMs,
        auditLogPath,
      );
      cp.etcd = etcd;
      await cp.startApiServer();
      return cp;
    } catch (err) {
      await (cp ? cp.stop() : etcd?.stop());
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts kube-apiserver (again) with the same flags and data, and waits until ready. */
  async startApiServer(): Promise<void> {
    this.apiServer = new ServerProcess({
      name: 'kube-apiserver',
      command: this.apiServerBinary,
      args: this.apiServerArgs,
    });
    await waitUntilReady(this.apiServer, () => this.readyz(), this.timeoutMs);
    // The bootstrap controller creates `default` shortly after /readyz turns ok.
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await waitUntilReady(
      this.apiServer,
      async () => !!(await core.readNamespace({ name: 'default' })),
      this.timeoutMs,
    );
  }

  /** Stops kube-apiserver (SIGTERM); etcd and its data stay. */
  async stopApiServer(): Promise<void> {
    await this.apiServer?.stop();
  }

  /** Restarts kube-apiserver on the same port with the same data. */
  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /** Freezes kube-apiserver: open connections hang without an error, as in a silent stall. */
  pauseApiServer(): void {
    this.apiServer.pause();
  }
  resumeApiServer(): void {
    this.apiServer.resume();
  }

  private readyz(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        `${this.url}/readyz`,
        { ca: this.ca.certPem, cert: this.admin.certPem, key: this.admin.keyPem, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  /** Stops both servers and removes their data. */
  async stop(): Promise<void> {
    await this.apiServer?.stop();
    await this.etcd?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const startControlPlane = ControlPlane.start;

/** A key pair kube-apiserver signs and verifies ServiceAccount tokens with. */
async function writeServiceAccountKeys(dir: string): Promise<{ saKey: string; saPub: string }> {
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  await writeFile(saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  return { saKey, saPub };
}

/** A one-member etcd on loopback, without fsync (test data need not survive a crash). */
function etcdArgs(dir: string, etcdUrl: string, peerPort: number): string[] {
  return [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

function auditFlags(dir: string, auditLogPath: string): string[] {
  return [
    `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
    `--audit-log-path=${auditLogPath}`,
    '--audit-log-format=json',
  ];
}
