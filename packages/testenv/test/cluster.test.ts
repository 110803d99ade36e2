import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, mountsUnder, NODE_IMAGE, startCluster } from '../src/index.js';

const run = promisify(execFile);

/** The host's own network namespace, as `ip` and iptables show it. */
async function hostNetwork(): Promise<string> {
  const out = await Promise.all(
    [
      ['ip', '-o', 'link'],
      ['ip', '-o', 'addr'],
      ['ip', 'route', 'show', 'table', 'all'],
      ['iptables-save'],
    ].map(async ([cmd, ...args]) => {
      const { stdout } = await run(cmd!, args).catch(() => ({ stdout: `${cmd}: not run` }));
      // iptables-save stamps its output with the time; the rules are what counts.
      return stdout.replace(/^#.*$/gm, '');
    }),
  );
  return out.join('\n');
}

/** Polls until `check` answers a value, or fails with `what` after `timeoutMs`. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('startCluster: a one-node cluster where Pods run', () => {
  let cluster: LocalCluster;
  let hostBefore: string;
  let core: CoreV1Api;

  beforeAll(async () => {
    hostBefore = await hostNetwork();
    cluster = await startCluster();
    core = cluster.cp.kubeConfig.makeApiClient(CoreV1Api);
    console.log(`cluster start to node Ready: ${cluster.readyAfterMs} ms`);
  }, 180_000);
  afterAll(() => cluster?.stop());

  it('the node is Ready, with its address inside its own network namespace', async () => {
    const node = await core.readNode({ name: cluster.node.name });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('True');
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: '10.88.0.2' });
    const { stdout } = await run('ip', ['-o', 'addr']);
    expect(stdout).not.toContain('10.88.0.2');
  });

  it('a Pod of the Node base image reaches Running, and its Service reaches it (kube-proxy)', async () => {
    const namespace = await cluster.createNamespace('web');
    const labels = { app: 'web' };
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          containers: [
            {
              name: 'web',
              image: NODE_IMAGE,
              imagePullPolicy: 'Never',
              args: [
                '-e',
                "require('http').createServer((q, s) => s.end('hello from ' + require('os').hostname())).listen(8080)",
              ],
              ports: [{ containerPort: 8080 }],
            },
          ],
        },
      },
    });
    const service = await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const pod = await eventually('Pod web Running', async () => {
      const p: V1Pod = await core.readNamespacedPod({ namespace, name: 'web' });
      return p.status?.phase === 'Running' ? p : undefined;
    });
    expect(pod.status?.podIP).toMatch(/^10\.244\.0\./);
    // From the host, through the node's bridge, to the ClusterIP kube-proxy routes.
    const port = await cluster.network.expose({ host: service.spec!.clusterIP!, port: 80 });
    const body = await eventually('the Service answers', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? res.text() : undefined;
    });
    expect(body).toBe('hello from web');
  });

  it('stopping leaves no process, mount, network namespace, cgroup or interface behind', async () => {
    const { dir, name } = cluster.network;
    const cgroupRoot = cluster.node.cgroupRoot;
    await cluster.stop();
    const leftovers: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(dir)) leftovers.push(`process ${pid}: ${cmdline.replace(/\0/g, ' ')}`);
    }
    leftovers.push(...(await mountsUnder(dir)).map((m) => `mount ${m}`));
    const { stdout: netns } = await run('ip', ['netns', 'list']);
    if (netns.includes(name)) leftovers.push(`network namespace ${name}`);
    for (const h of await readdir('/sys/fs/cgroup')) {
      if (existsSync(`/sys/fs/cgroup/${h}${cgroupRoot}`))
        leftovers.push(`cgroup ${h}${cgroupRoot}`);
    }
    if (existsSync(dir)) leftovers.push(`folder ${dir}`);
    expect(leftovers).toEqual([]);
    expect(await hostNetwork()).toBe(hostBefore);
  });
});
