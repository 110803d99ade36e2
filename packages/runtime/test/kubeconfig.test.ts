import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, startConnectProxy } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { Client } from '../src/client/client.js';
import { ForbiddenError } from '../src/client/errors.js';
import { ConfigMaps } from '../src/client/resource.js';
import type { TransportOptions } from '../src/client/transport.js';
import { managerFor, runOperator } from '../src/config/operator.js';
import type { ClusterAccess } from '../src/kubeconfig/access.js';
import { inClusterAccess } from '../src/kubeconfig/in-cluster.js';
import { loadKubeConfig } from '../src/kubeconfig/load.js';
import { RereadFile } from '../src/kubeconfig/reread-file.js';
import { silentLogger } from '../src/log/logger.js';

interface SelfSubjectReview {
  status: { userInfo: { username: string; groups?: string[] } };
}

/** Who the API server says the access authenticates as. */
async function whoami(access: ClusterAccess, opts: TransportOptions = {}): Promise<string> {
  const client = new Client(access, opts);
  try {
    const review = await client.transport.request<SelfSubjectReview>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    return review.status.userInfo.username;
  } finally {
    client.transport.close();
  }
}

const ENV = ['KUBECONFIG', 'HOME', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'] as const;

describe('loadKubeConfig', () => {
  let cluster: Cluster;
  let ns: string;
  let dir: string;
  const savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

  beforeAll(async () => {
    cluster = await sharedCluster();
    ns = await cluster.createNamespace('kubeconfig');
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
  });

  afterEach(() => {
    for (const k of ENV) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const b64 = (s: string) => Buffer.from(s).toString('base64');

  /** A kubeconfig of one context `ctx` of cluster `c` and user `u`. */
  const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
    });

  const write = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const ok = { server: 'https://127.0.0.1:6443' };

  const saToken = async (name: string): Promise<string> => {
    const token = (await cluster.serviceAccountKubeConfig(ns, name)).getCurrentUser()?.token;
    if (!token) throw new Error(`no token for ${name}`);
    return token;
  };

  /** A ServiceAccount allowed to list ConfigMaps in `ns`, and its token. */
  const readerToken = async (): Promise<string> => {
    await cluster.apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: configmap-reader, namespace: ${ns} }
rules: [{ apiGroups: [''], resources: [configmaps], verbs: [list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: configmap-reader, namespace: ${ns} }
subjects: [{ kind: ServiceAccount, name: reader, namespace: ${ns} }]
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader }
`);
    return saToken('reader');
  };

  it('authenticates with client certificate and key files relative to the kubeconfig', async () => {
    const user = (await cluster.userKubeConfig('kubeconfig-cert-user')).getCurrentUser();
    const sub = join(dir, 'cert');
    await mkdir(join(sub, 'pki'), { recursive: true });
    await writeFile(join(sub, 'pki', 'ca.crt'), cluster.caPem);
    await writeFile(join(sub, 'pki', 'user.crt'), Buffer.from(user?.certData ?? '', 'base64'));
    await writeFile(join(sub, 'pki', 'user.key'), Buffer.from(user?.keyData ?? '', 'base64'));
    const file = join(sub, 'config');
    await writeFile(
      file,
      kubeconfig(
        { server: cluster.url, 'certificate-authority': 'pki/ca.crt' },
        { 'client-certificate': 'pki/user.crt', 'client-key': 'pki/user.key' },
      ),
    );

    const access = loadKubeConfig(file);
    expect(access.getCurrentCluster()?.server).toBe(cluster.url);
    expect(await whoami(access)).toBe('kubeconfig-cert-user');
  });

  it('authenticates with a token, and finds the file through $KUBECONFIG', async () => {
    const file = join(dir, 'token.yaml');
    await writeFile(
      file,
      kubeconfig(
        { server: cluster.url, 'certificate-authority-data': b64(cluster.caPem) },
        { token: await saToken('token-user') },
      ),
    );
    expect(await whoami(loadKubeConfig(file))).toBe(`system:serviceaccount:${ns}:token-user`);

    // A list skips its missing files.
    process.env.KUBECONFIG = `${file}:${join(dir, 'missing.yaml')}`;
    expect(await whoami(loadKubeConfig())).toBe(`system:serviceaccount:${ns}:token-user`);
  });

  describe('finding 16: a $KUBECONFIG list and a proxy-url', () => {
    /** A kubeconfig document of the given parts (lists left out when not given). */
    const doc = (parts: Record<string, unknown>) =>
      stringify({ apiVersion: 'v1', kind: 'Config', ...parts });

    it('finding 16: merges the $KUBECONFIG files as kubectl does: first file wins per entry and current-context, paths relative to their own file', async () => {
      const first = join(dir, 'merge-first');
      const second = join(dir, 'merge-second');
      await mkdir(join(second, 'pki'), { recursive: true });
      await mkdir(first, { recursive: true });
      await writeFile(join(second, 'pki', 'ca.crt'), cluster.caPem);
      // The first file sets the context and its user; the cluster comes from the second.
      await writeFile(
        join(first, 'config'),
        doc({
          'current-context': 'ctx',
          contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
          users: [{ name: 'u', user: { token: await saToken('merged-first') } }],
        }),
      );
      await writeFile(
        join(second, 'config'),
        doc({
          // Ignored: the first file set one.
          'current-context': 'other',
          contexts: [
            { name: 'ctx', context: { cluster: 'nowhere', user: 'v' } },
            { name: 'other', context: { cluster: 'c', user: 'v' } },
          ],
          // Relative to this file's folder.
          clusters: [
            { name: 'c', cluster: { server: cluster.url, 'certificate-authority': 'pki/ca.crt' } },
          ],
          // u is the first file's, whole: this one's token is not used.
          users: [
            { name: 'u', user: { token: await saToken('merged-second') } },
            { name: 'v', user: { token: await saToken('merged-other') } },
          ],
        }),
      );
      process.env.KUBECONFIG = [
        join(first, 'config'),
        join(dir, 'missing'),
        join(second, 'config'),
      ].join(':');

      const access = loadKubeConfig();
      expect(access).toMatchObject({ context: 'ctx', namespace: 'team-a' });
      expect(await whoami(access)).toBe(`system:serviceaccount:${ns}:merged-first`);
      const other = loadKubeConfig(undefined, { context: 'other' });
      expect(await whoami(other)).toBe(`system:serviceaccount:${ns}:merged-other`);
      // --kubeconfig is one file, never merged (kubectl): the first has no cluster c.
      expect(() => loadKubeConfig(join(first, 'config'))).toThrow(
        `kubeconfig ${join(first, 'config')}: cluster "c" not found (clusters: none)`,
      );
    });

    it("finding 16: tunnels every request through the cluster's proxy-url", async () => {
      const proxy = await startConnectProxy();
      try {
        const file = join(dir, 'proxied.yaml');
        await writeFile(
          file,
          kubeconfig(
            {
              server: cluster.url,
              'certificate-authority-data': b64(cluster.caPem),
              'proxy-url': proxy.url,
            },
            { token: await saToken('proxied') },
          ),
        );
        expect(await whoami(loadKubeConfig(file))).toBe(`system:serviceaccount:${ns}:proxied`);
        expect(proxy.connects).toEqual([new URL(cluster.url).host]);
        const socks = await write(
          'socks.yaml',
          kubeconfig({ ...ok, 'proxy-url': 'socks5://127.0.0.1:1080' }, { token: 't' }),
        );
        expect(() => loadKubeConfig(socks)).toThrow(
          `kubeconfig ${socks}: cluster "c": proxy-url "socks5://127.0.0.1:1080" is not an http:// or https:// URL`,
        );
      } finally {
        await proxy.stop();
      }
    });
  });

  it('runs exec users through client-node', async () => {
    const file = join(dir, 'exec.yaml');
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: await saToken('exec-user') },
    };
    await writeFile(
      file,
      kubeconfig(
        { server: cluster.url, 'certificate-authority-data': b64(cluster.caPem) },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: ['-e', 'process.stdout.write(process.env.CREDENTIAL)'],
            env: [{ name: 'CREDENTIAL', value: JSON.stringify(credential) }],
            interactiveMode: 'Never',
          },
        },
      ),
    );
    expect(await whoami(loadKubeConfig(file))).toBe(`system:serviceaccount:${ns}:exec-user`);
  });

  it('runs in a pod: service host and port from the environment, token and CA mounted', async () => {
    const saDir = join(dir, 'serviceaccount');
    await mkdir(saDir, { recursive: true });
    await writeFile(join(saDir, 'token'), await saToken('in-cluster'));
    await writeFile(join(saDir, 'ca.crt'), cluster.caPem);
    const url = new URL(cluster.url);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    // Neither $KUBECONFIG nor ~/.kube/config: in-cluster is the last resort.
    delete process.env.KUBECONFIG;
    process.env.HOME = join(dir, 'empty-home');

    const access = loadKubeConfig(undefined, { serviceAccountDir: saDir });
    expect(access.getCurrentCluster()?.server).toBe(`https://${url.hostname}:${url.port}`);
    expect(await whoami(access)).toBe(`system:serviceaccount:${ns}:in-cluster`);
  });

  describe('reads a rotated token again after the re-read interval', () => {
    const REREAD_MS = 1500;

    /** Lists ConfigMaps with `access` before and after `tokenFile` gets the reader's token. */
    const rotate = async (access: ClusterAccess, tokenFile: string) => {
      // A new TLS context and headers per request: only the loader caches here.
      const client = new Client(access, { authRefreshMs: 0 });
      try {
        const list = () => client.list(ConfigMaps, { namespace: ns });
        await expect(list()).rejects.toBeInstanceOf(ForbiddenError);
        await writeFile(tokenFile, await readerToken());
        await new Promise((r) => setTimeout(r, REREAD_MS + 100));
        expect(await list()).toEqual([]);
      } finally {
        client.transport.close();
      }
    };

    it('in a pod', async () => {
      const saDir = join(dir, 'rotating-sa');
      await mkdir(saDir, { recursive: true });
      await writeFile(join(saDir, 'token'), await saToken('nobody'));
      await writeFile(join(saDir, 'ca.crt'), cluster.caPem);
      const url = new URL(cluster.url);
      process.env.KUBERNETES_SERVICE_HOST = url.hostname;
      process.env.KUBERNETES_SERVICE_PORT = url.port;
      const access = inClusterAccess({ serviceAccountDir: saDir, rereadMs: REREAD_MS });
      await rotate(access, join(saDir, 'token'));
    });

    it('from a kubeconfig tokenFile', async () => {
      const sub = join(dir, 'rotating-file');
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, 'token'), await saToken('nobody'));
      const file = join(sub, 'config');
      await writeFile(
        file,
        kubeconfig(
          { server: cluster.url, 'certificate-authority-data': b64(cluster.caPem) },
          { tokenFile: 'token' },
        ),
      );
      await rotate(loadKubeConfig(file, { rereadMs: REREAD_MS }), join(sub, 'token'));
    });
  });

  it('reads a file again at most once per interval, keeping the last content if it is gone', async () => {
    const file = join(dir, 'rotating');
    await writeFile(file, 'one');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const source = new RereadFile(file, 60_000);
      await writeFile(file, 'two');
      vi.advanceTimersByTime(59_000);
      expect(source.read().toString()).toBe('one');
      vi.advanceTimersByTime(1000);
      expect(source.read().toString()).toBe('two');
      await rm(file);
      vi.advanceTimersByTime(60_000);
      expect(source.read().toString()).toBe('two');
    } finally {
      vi.useRealTimers();
    }
  });

  describe('errors name the file and the field', () => {
    it('a missing context', async () => {
      const file = await write(
        'no-context.yaml',
        kubeconfig(ok, { token: 't' }).replace('current-context: ctx', 'current-context: foo'),
      );
      expect(() => loadKubeConfig(file)).toThrow(
        `kubeconfig ${file}: context "foo" not found (contexts: ctx)`,
      );
    });

    it('bad base64', async () => {
      const file = await write(
        'bad-key.yaml',
        kubeconfig(ok, { 'client-certificate-data': b64('cert'), 'client-key-data': 'not*b64' }),
      );
      expect(() => loadKubeConfig(file)).toThrow(
        `kubeconfig ${file}: user "u": client-key-data is not base64`,
      );
    });

    it('a missing server, CA file or token file', async () => {
      const noServer = await write('no-server.yaml', kubeconfig({}, { token: 't' }));
      expect(() => loadKubeConfig(noServer)).toThrow(
        `kubeconfig ${noServer}: cluster "c": server is missing`,
      );
      const noCa = await write(
        'no-ca.yaml',
        kubeconfig({ ...ok, 'certificate-authority': 'nope/ca.crt' }, { token: 't' }),
      );
      expect(() => loadKubeConfig(noCa)).toThrow(
        `kubeconfig ${noCa}: cluster "c": certificate-authority: ENOENT: no such file or directory, open '${join(dir, 'nope/ca.crt')}'`,
      );
      const noTokenFile = await write('no-token.yaml', kubeconfig(ok, { tokenFile: 'nope' }));
      expect(() => loadKubeConfig(noTokenFile)).toThrow(
        `kubeconfig ${noTokenFile}: user "u": tokenFile: ENOENT`,
      );
    });

    it('a missing file, and no configuration at all', async () => {
      const missing = join(dir, 'missing.yaml');
      expect(() => loadKubeConfig(missing)).toThrow(`kubeconfig ${missing}: ENOENT`);
      delete process.env.KUBECONFIG;
      delete process.env.KUBERNETES_SERVICE_HOST;
      process.env.HOME = join(dir, 'empty-home');
      expect(() => loadKubeConfig()).toThrow(/^no kubeconfig: none given/);
      expect(() => inClusterAccess({ serviceAccountDir: dir })).toThrow(
        'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set',
      );
    });

    it('exit an operator with 2 and the message, as invalid flags do', async () => {
      const file = await write('operator.yaml', 'current-context: nowhere\n');
      const err: string[] = [];
      const spy = vi
        .spyOn(process.stderr, 'write')
        .mockImplementation((s) => err.push(String(s)) > 0);
      try {
        const code = await runOperator(
          {
            name: 'op',
            parse: () => ({
              help: false,
              kubeApi: { qps: 1, burst: 1 },
              leaderElect: false,
              leaderElectionNamespace: 'default',
              leaderElectionId: 'op',
              metricsPort: 0,
              healthPort: 0,
              bindAddress: '127.0.0.1',
              gracefulShutdownTimeoutMs: 30_000,
              kubeconfig: file,
              logLevel: 'error' as const,
            }),
            help: () => '',
            run: async (config) => {
              managerFor(config, silentLogger);
              return 0;
            },
          },
          [],
        );
        expect(code).toBe(2);
      } finally {
        spy.mockRestore();
      }
      expect(err.join('')).toBe(
        `op: invalid configuration: kubeconfig ${file}: context "nowhere" not found (contexts: none)\n`,
      );
    });
  });
});
