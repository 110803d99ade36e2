// A node's network: one network namespace that testenv creates and removes, holding the
// node's addresses, its pod bridge and kube-proxy's rules. Nothing is added to the host's
// namespace (no interface, route or rule): the host and the namespace meet only through Unix
// sockets (./bridge.ts), so no packet leaves loopback and the namespace.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../ports.js';
import { ServerProcess, waitUntilReady } from '../process.js';
import { requireCommand } from '../tools.js';
import { connectVia, forwardTcp, type HostPort, serveConnect } from './bridge.js';

const run = promisify(execFile);
// Built JavaScript, from src/ (under vitest) as from dist/: Node runs it in the namespace.
const bridgeMain = fileURLToPath(new URL('../../dist/node/bridge-main.js', import.meta.url));

/** The node's addresses, the same in every node: each has a namespace of its own. */
export const NODE_ADDRESSES = {
  /** The node's InternalIP: kubelet's and kube-proxy's address. */
  node: '10.88.0.2',
  /** The host as the node sees it: where forwards to host servers listen. */
  host: '10.88.0.1',
  /** Pods' addresses (the bridge's host-local range). */
  pods: '10.244.0.0/24',
} as const;

/** Names of the namespaces testenv makes: `chousei-<owner pid>-<random>`. */
export const NETNS_PREFIX = 'chousei-';

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run(requireCommand('ip', 'apt-get install -y iproute2'), args);
  return stdout;
}

/** A network namespace for one node, with the bridge that joins it to the host's loopback. */
export class NodeNetwork {
  /** Host ports the node may reach (`127.0.0.1:PORT`), added by forwardToHost. */
  private readonly allowed = new Set<string>();
  private hostProxy?: Server;
  private bridge?: ServerProcess;
  private nextId = 1;
  private readonly replies = new Map<number, (error?: string) => void>();
  private readonly closers: Array<() => void> = [];

  private constructor(
    /** The namespace, `ip netns` name. */
    readonly name: string,
    /** A folder for the node's files (sockets, configs, state); removed by stop(). */
    readonly dir: string,
  ) {}

  /** Where kube-apiserver's egress and host clients CONNECT to reach into the node. */
  get proxySocket(): string {
    return join(this.dir, 'node.sock');
  }
  private get hostSocket(): string {
    return join(this.dir, 'host.sock');
  }
  get netnsPath(): string {
    return `/run/netns/${this.name}`;
  }

  static async create(): Promise<NodeNetwork> {
    const name = `${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
    const net = new NodeNetwork(name, join(tmpdir(), name));
    await mkdir(net.dir, { mode: 0o700 });
    try {
      await ip('netns', 'add', name);
      await net.configure();
      await net.startBridge();
      return net;
    } catch (err) {
      await net.stop();
      throw err;
    }
  }

  /**
   * lo, and a veth pair whose both ends stay inside: node0 holds the node's and the host's
   * addresses. A packet for nowhere is refused at once (unreachable default route), and
   * node0's peer forwards nothing, so a stray packet cannot loop.
   */
  private async configure(): Promise<void> {
    const n = ['-n', this.name];
    await ip(...n, 'link', 'set', 'lo', 'up');
    await ip(...n, 'link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0p');
    await ip(...n, 'addr', 'add', `${NODE_ADDRESSES.node}/24`, 'dev', 'node0');
    await ip(...n, 'addr', 'add', `${NODE_ADDRESSES.host}/24`, 'dev', 'node0');
    await ip(...n, 'link', 'set', 'node0', 'up');
    await ip(...n, 'link', 'set', 'node0p', 'up');
    await ip(...n, 'route', 'add', 'unreachable', 'default');
    // Forwarding on (pods are routed through the bridge), then off for node0p alone.
    await this.sysctl('net.ipv4.ip_forward', '1');
    await this.sysctl('net.ipv4.conf.node0p.forwarding', '0');
  }

  /** Sets a sysctl of this namespace (net.* sysctls are per namespace). */
  async sysctl(key: string, value: string): Promise<void> {
    await run(requireCommand('nsenter', 'apt-get install -y util-linux'), [
      `--net=${this.netnsPath}`,
      '--',
      'sysctl',
      '-q',
      '-w',
      `${key}=${value}`,
    ]);
  }

  /** Routes `cidr` (e.g. the Service range) to node0, where kube-proxy's rules take it. */
  async route(cidr: string): Promise<void> {
    await ip('-n', this.name, 'route', 'replace', cidr, 'dev', 'node0');
  }

  /** One more address on node0, e.g. a load balancer's. */
  async addAddress(address: string): Promise<void> {
    await ip('-n', this.name, 'addr', 'add', `${address}/32`, 'dev', 'node0');
  }

  /** The command and arguments that run `command` in this namespace (and only there). */
  exec(command: string, args: string[]): { command: string; args: string[] } {
    const nsenter = requireCommand('nsenter', 'apt-get install -y util-linux');
    // The network namespace only: mounts stay shared, as kubelet and containerd need.
    return { command: nsenter, args: [`--net=${this.netnsPath}`, '--', command, ...args] };
  }

  private async startBridge(): Promise<void> {
    this.hostProxy = await serveConnect(this.hostSocket, (t) =>
      this.allowed.has(`${t.host}:${t.port}`),
    );
    const { command, args } = this.exec(process.execPath, [
      bridgeMain,
      JSON.stringify({ proxy: this.proxySocket, hostProxy: this.hostSocket }),
    ]);
    const bridge = new ServerProcess({ name: 'node bridge', command, args, stdin: true });
    this.bridge = bridge;
    let ready = false;
    let buf = '';
    bridge.child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as { ready?: boolean; id?: number; error?: string };
        buf = buf.slice(i + 1);
        if (msg.ready) ready = true;
        if (msg.id !== undefined) this.replies.get(msg.id)?.(msg.error);
      }
    });
    await waitUntilReady(bridge, async () => ready, 10_000, 20);
  }

  /**
   * Makes the host's `127.0.0.1:port` reachable from the node (and its Pods) at
   * `listenHost` (default the host address) on `listenPort` (default the same port); `dns`
   * adds UDP, asked over TCP. Answers `host:port` as Pods use it.
   */
  async forwardToHost(
    port: number,
    opts: { dns?: boolean; listenPort?: number; listenHost?: string } = {},
  ): Promise<string> {
    const listen = `${opts.listenHost ?? NODE_ADDRESSES.host}:${opts.listenPort ?? port}`;
    this.allowed.add(`127.0.0.1:${port}`);
    const id = this.nextId++;
    const done = new Promise<string | undefined>((resolve) => this.replies.set(id, resolve));
    const forward = { listen, to: `127.0.0.1:${port}`, dns: !!opts.dns };
    this.bridge?.child.stdin?.write(`${JSON.stringify({ id, forward })}\n`);
    const error = await done;
    this.replies.delete(id);
    if (error) throw new Error(`forward ${listen} -> 127.0.0.1:${port}: ${error}`);
    return listen;
  }

  /** A connection from the host to `target` in the node's namespace (a Pod, a Service). */
  connect(target: HostPort): Promise<Socket> {
    return connectVia(this.proxySocket, target);
  }

  /** A host loopback port forwarded to `target` in the node (as `kubectl port-forward`). */
  async expose(target: HostPort): Promise<number> {
    const port = await freePort();
    const server = await forwardTcp({ host: '127.0.0.1', port }, this.proxySocket, target);
    this.closers.push(() => server.close());
    return port;
  }

  /** Stops the bridge and removes the namespace (and with it every interface in it). */
  async stop(): Promise<void> {
    for (const close of this.closers.splice(0)) close();
    this.bridge?.child.stdin?.end();
    await this.bridge?.stop(2000);
    this.hostProxy?.close();
    await ip('netns', 'delete', this.name).catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
