// A one-node cluster on testenv's control plane: kube-scheduler and kube-controller-manager
// beside kube-apiserver on the host's loopback; containerd, kubelet and kube-proxy inside the
// node's network namespace (./network.ts), Pods on a bridge there. Images come from local
// archives (./images.ts), never from a registry.
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, controlPlaneBinary, SERVICE_RANGE } from '../controlplane.js';
import { ServerProcess, waitUntilReady } from '../process.js';
import { requireDebian } from '../tools.js';
import type { ImageArchive } from './images.js';
import { NODE_ADDRESSES, type NodeNetwork } from './network.js';
import { cgroupHierarchies, removeNodeLeftovers } from './teardown.js';

const run = promisify(execFile);

export interface NodeOptions {
  /** The Node's name. Default `chousei-node`. */
  name?: string;
  /** The pause image every Pod sandbox runs (imported before kubelet starts). */
  pauseImage: ImageArchive;
  /** `host:port` of the DNS server Pods use (resolv.conf's nameserver). */
  dnsServer?: string;
  /** Start timeout of the node (Ready), default 60 s. */
  readyTimeoutMs?: number;
}

/** A kubeconfig of `kc`'s user for a server at another address (the node's view). */
function withServer(kc: KubeConfig, server: string): KubeConfig {
  const moved = new KubeConfig();
  moved.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return moved;
}

const CONTROLLER_FLAGS = ['--leader-elect=false', '--secure-port=0', '--v=1'];

/** The control plane's controllers and a node with containerd, kubelet and kube-proxy. */
export class KubeNode {
  private readonly processes: ServerProcess[] = [];

  private constructor(
    readonly name: string,
    readonly cp: ControlPlane,
    readonly network: NodeNetwork,
  ) {}

  /** Where the node keeps its files: the network's folder. */
  get dir(): string {
    return this.network.dir;
  }
  /** containerd's socket, for `ctr -a`. */
  get containerdSocket(): string {
    return join(this.dir, 'containerd', 'containerd.sock');
  }
  /** The cgroup (in each hierarchy) every Pod runs under. */
  get cgroupRoot(): string {
    return `/${this.network.name}`;
  }

  static async start(cp: ControlPlane, network: NodeNetwork, opts: NodeOptions): Promise<KubeNode> {
    const node = new KubeNode(opts.name ?? 'chousei-node', cp, network);
    await mkdir(join(node.dir, 'logs'));
    try {
      await network.route(SERVICE_RANGE);
      const apiPort = Number(new URL(cp.url).port);
      const server = `https://${await network.forwardToHost(apiPort)}`;
      await Promise.all([node.startControllers(), node.startContainerd()]);
      await node.importImage(opts.pauseImage);
      await node.startKubelet(server, opts);
      await node.startKubeProxy(server);
      await node.waitReady(opts.readyTimeoutMs ?? 60_000);
      return node;
    } catch (err) {
      await node.stop();
      throw err;
    }
  }

  /** Starts a component; its whole output goes to `logs/NAME.log` in the node's folder. */
  private start(name: string, command: string, args: string[], inNode = false): ServerProcess {
    const cmd = inNode ? this.network.exec(command, args) : { command, args };
    const proc = new ServerProcess({ name, ...cmd });
    const log = createWriteStream(join(this.dir, 'logs', `${name}.log`));
    proc.child.stdout?.pipe(log, { end: false });
    proc.child.stderr?.pipe(log, { end: false });
    proc.child.once('exit', () => log.end());
    this.processes.push(proc);
    return proc;
  }

  /** A kubeconfig file for `user` (client certificate) reaching the API server at `server`. */
  private async kubeconfig(user: string, groups: string[], server?: string): Promise<string> {
    const kc = await this.cp.userKubeConfig(user, groups);
    const file = `${user.replace(/[^a-z0-9-]+/gi, '-')}.kubeconfig`;
    return this.cp.writeKubeconfig(server ? withServer(kc, server) : kc, file);
  }

  private async startControllers(): Promise<void> {
    const cm = await this.kubeconfig('system:kube-controller-manager', []);
    const scheduler = await this.kubeconfig('system:kube-scheduler', []);
    this.start('kube-controller-manager', controlPlaneBinary('kube-controller-manager'), [
      `--kubeconfig=${cm}`,
      // Each controller with its own ServiceAccount, as kubeadm runs it.
      '--use-service-account-credentials=true',
      // Published as every namespace's kube-root-ca.crt, which Pods' token volumes hold.
      `--root-ca-file=${this.cp.caCertPath}`,
      `--service-cluster-ip-range=${SERVICE_RANGE}`,
      ...CONTROLLER_FLAGS,
    ]);
    this.start('kube-scheduler', controlPlaneBinary('kube-scheduler'), [
      `--kubeconfig=${scheduler}`,
      ...CONTROLLER_FLAGS,
    ]);
  }

  private async startContainerd(): Promise<void> {
    const dir = join(this.dir, 'containerd');
    const cniDir = join(this.dir, 'cni');
    await mkdir(cniDir, { recursive: true });
    await writeFile(join(cniDir, '10-chousei.conflist'), JSON.stringify(cniConfig(this.dir)));
    const config = join(this.dir, 'containerd.toml');
    await writeFile(config, containerdConfig(dir, cniDir));
    const containerd = requireDebian('containerd', 'containerd');
    const proc = this.start('containerd', containerd, ['--config', config], true);
    await waitUntilReady(proc, async () => existsSync(this.containerdSocket), 20_000);
  }

  /** Imports an image archive into containerd's k8s.io namespace, where kubelet finds it. */
  async importImage(image: ImageArchive): Promise<void> {
    await this.ctr('images', 'import', image.path);
  }

  /** Runs `ctr` against this node's containerd, in its k8s.io namespace. */
  async ctr(...args: string[]): Promise<string> {
    const ctr = requireDebian('ctr', 'containerd');
    const { stdout } = await run(ctr, ['-a', this.containerdSocket, '-n', 'k8s.io', ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  private async startKubelet(server: string, opts: NodeOptions): Promise<void> {
    const dir = join(this.dir, 'kubelet');
    await mkdir(dir, { recursive: true });
    await createCgroup(this.cgroupRoot);
    const serving = await this.cp.issueCertificate('kubelet', {
      commonName: `system:node:${this.name}`,
      dnsNames: [this.name],
      ipAddresses: [NODE_ADDRESSES.node],
      usage: 'server',
    });
    const resolvConf = join(this.dir, 'resolv.conf');
    const dns = opts.dnsServer?.split(':')[0];
    await writeFile(resolvConf, dns ? `nameserver ${dns}\n` : '');
    const config = join(this.dir, 'kubelet.json');
    await writeFile(
      config,
      JSON.stringify(
        kubeletConfig({
          dir,
          caPath: this.cp.caCertPath,
          serving,
          cgroupRoot: this.cgroupRoot,
          runtime: `unix://${this.containerdSocket}`,
          resolvConf,
        }),
      ),
    );
    const kubeconfig = await this.kubeconfig(`system:node:${this.name}`, ['system:nodes'], server);
    this.start(
      'kubelet',
      controlPlaneBinary('kubelet'),
      [
        `--config=${config}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${dir}`,
        `--hostname-override=${this.name}`,
        `--node-ip=${NODE_ADDRESSES.node}`,
        '--v=1',
      ],
      true,
    );
  }

  private async startKubeProxy(server: string): Promise<void> {
    const kubeconfig = await this.kubeconfig('system:kube-proxy', [], server);
    const config = join(this.dir, 'kube-proxy.json');
    await writeFile(config, JSON.stringify(kubeProxyConfig(kubeconfig, this.name)));
    this.start(
      'kube-proxy',
      controlPlaneBinary('kube-proxy'),
      [`--config=${config}`, '--v=1'],
      true,
    );
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const core = this.cp.kubeConfig.makeApiClient(CoreV1Api);
    await waitUntilReady(
      this.processes,
      async () => {
        const node = await core.readNode({ name: this.name });
        return !!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      timeoutMs,
      200,
      `node ${this.name} Ready`,
    );
  }

  /** The last lines of a component's output, e.g. `kubelet`, for a failure's message. */
  logs(name: string, lines = 30): string {
    return this.processes.find((p) => p.name === name)?.tail(lines) ?? '';
  }

  /**
   * Stops every component and removes what they made: containers (killed with their
   * cgroup), containerd's shims, mounts under the node's folder, the cgroups, the log links
   * kubelet puts in /var/log/containers. The network is the caller's to stop.
   */
  async stop(): Promise<void> {
    for (const p of this.processes.splice(0).reverse()) await p.stop();
    await removeNodeLeftovers(this.dir, this.cgroupRoot);
  }
}

/** kubelet's cgroupRoot, in every hierarchy; cpuset needs its CPUs and memory nodes set. */
async function createCgroup(root: string): Promise<void> {
  for (const h of await cgroupHierarchies()) {
    const dir = join(h, root);
    await mkdir(dir, { recursive: true });
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(h, f))) await writeFile(join(dir, f), await readFile(join(h, f)));
    }
  }
}

/** A bridge in the node's namespace, addresses from host-local IPAM kept in the node's folder. */
function cniConfig(dir: string) {
  return {
    cniVersion: '1.0.0',
    name: 'chousei',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // Pods' traffic stays in the namespace: nothing to masquerade.
        ipMasq: false,
        // A Pod reaching itself through its Service.
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: NODE_ADDRESSES.pods }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(dir, 'cni-ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function containerdConfig(dir: string, cniDir: string): string {
  return `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
[grpc]
  address = "${join(dir, 'containerd.sock')}"
[ttrpc]
  address = "${join(dir, 'containerd.sock.ttrpc')}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Pods' network namespaces under the state folder, not in the host's /run/netns.
  netns_mounts_under_state_dir = true
  # Containers' oom_score_adj no lower than containerd's own: lowering it takes
  # CAP_SYS_RESOURCE, which a container or VM may not grant (this project's CI VM does not).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${join(dir, 'runc')}"
        SystemdCgroup = false
`;
}

/** The pause image's name, as containerd's sandbox_image. */
export const PAUSE_IMAGE = 'chousei.local/pause:1';

function kubeletConfig(o: {
  dir: string;
  caPath: string;
  serving: { certPath: string; keyPath: string };
  cgroupRoot: string;
  runtime: string;
  resolvConf: string;
}) {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_ADDRESSES.node,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    tlsCertFile: o.serving.certPath,
    tlsPrivateKeyFile: o.serving.keyPath,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: o.caPath },
    },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'cgroupfs',
    cgroupRoot: o.cgroupRoot,
    containerRuntimeEndpoint: o.runtime,
    failSwapOn: false,
    resolvConf: o.resolvConf,
    podLogsDir: join(o.dir, 'pod-logs'),
    volumePluginDir: join(o.dir, 'volume-plugins'),
    // Images come from archives, not a registry: never collect them, never evict for disk
    // on a machine shared with other work.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '1Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    serializeImagePulls: false,
    // Left as is: lowering it takes CAP_SYS_RESOURCE (see restrict_oom_score_adj).
    oomScoreAdj: 0,
  };
}

function kubeProxyConfig(kubeconfig: string, hostname: string) {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    hostnameOverride: hostname,
    clusterCIDR: NODE_ADDRESSES.pods,
    bindAddress: NODE_ADDRESSES.node,
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '127.0.0.1:10256',
    // Host-wide conntrack settings are not the node's to change.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    oomScoreAdj: 0,
  };
}
