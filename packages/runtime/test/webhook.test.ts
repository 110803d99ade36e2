import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createCA, issueCert, type KeyPair } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  type V1ConfigMap,
  type V1ValidatingWebhook,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdmissionRequest,
  type AdmissionReview,
  allow,
  deny,
  type JsonPatchOp,
  mutatingHandler,
  validatingHandler,
  WebhookServer,
} from '../src/webhook/index.js';

/** Logs kept in memory, to assert on what the server reports. */
function memoryLogger() {
  const lines: { level: number; msg: string; err?: { message: string } }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  return { logger, lines };
}

async function serverPair(dir: string, ca: KeyPair, name: string): Promise<KeyPair> {
  return issueCert(ca, dir, name, {
    commonName: 'webhook.test',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The certificate a fresh TLS handshake gets from the server (no session reuse). */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  port: number,
  ca: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      { host: '127.0.0.1', port, method, path, ca, headers, agent: false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    // The server may answer (413) and close before a large body is fully written.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

function review(request: Partial<AdmissionRequest<unknown>>): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b3e3c1c4-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      operation: 'CREATE',
      userInfo: { username: 'tester' },
      ...request,
    },
  });
}

type ConfigMapRequest = AdmissionRequest<V1ConfigMap>;

/** Denies ConfigMaps whose `data.color` is not a primary color. */
function colorPolicy(seen?: ConfigMapRequest[], suffix = '') {
  return validatingHandler<V1ConfigMap>((req) => {
    seen?.push(req);
    const color = req.object?.data?.color;
    if (color === undefined) return allow(['no color set']);
    if (['red', 'green', 'blue'].includes(color)) return allow();
    return deny(`ConfigMap ${req.name} has a bad color${suffix}`, [
      { field: 'data.color', message: `${color} is not red, green or blue` },
    ]);
  });
}

describe('WebhookServer over HTTPS', () => {
  let dir: string;
  let ca: KeyPair;
  let server: WebhookServer;
  let logs: ReturnType<typeof memoryLogger>;
  const certFile = () => join(dir, 'tls.crt');
  const keyFile = () => join(dir, 'tls.key');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chousei-webhook-'));
    ca = await createCA(dir, 'ca');
    const pair = await serverPair(dir, ca, 'serving');
    await writeFile(certFile(), pair.certPem);
    await writeFile(keyFile(), pair.keyPem);
    logs = memoryLogger();
    server = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certDir: dir,
      logger: logs.logger,
      maxBodyBytes: 64 * 1024,
      // Only the directory watch may pick up changes in this block's reload test.
      certPollIntervalMs: 600_000,
    });
    server.register('/validate', colorPolicy());
    server.register(
      '/mutate',
      mutatingHandler<V1ConfigMap>((cm) => {
        cm.metadata!.labels = { ...cm.metadata!.labels, 'a/b': 'c' };
        delete cm.data?.secret;
      }),
    );
    server.register(
      '/boom',
      validatingHandler(() => {
        throw new Error('handler exploded');
      }),
    );
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: string | Buffer, headers?: Record<string, string>) =>
    call(server.port, ca.certPem, 'POST', path, body, headers);

  it('answers health checks, and 404/405 for paths and methods it does not serve', async () => {
    expect(await call(server.port, ca.certPem, 'GET', '/healthz')).toMatchObject({
      status: 200,
      body: 'ok\n',
    });
    expect((await post('/nope', review({}))).status).toBe(404);
    expect((await call(server.port, ca.certPem, 'GET', '/validate')).status).toBe(405);
  });

  it('rejects malformed reviews with 400, other media types with 415, big bodies with 413', async () => {
    expect((await post('/validate', '{not json')).status).toBe(400);
    expect((await post('/validate', '{"kind":"Pod"}')).status).toBe(400);
    const v1beta1 = review({}).replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1');
    expect((await post('/validate', v1beta1)).status).toBe(400);
    expect((await post('/validate', review({ uid: '' }))).status).toBe(400);
    expect((await post('/validate', review({}), { 'content-type': 'text/plain' })).status).toBe(
      415,
    );
    const big = review({ object: { data: { blob: 'x'.repeat(100 * 1024) } } });
    expect((await post('/validate', big)).status).toBe(413);
    // Without a Content-Length the limit is enforced while reading.
    const chunked = await post('/validate', big, {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    expect(chunked.status).toBe(413);
    // And the server keeps serving.
    expect((await call(server.port, ca.certPem, 'GET', '/healthz')).status).toBe(200);
  });

  it('echoes the uid and returns the denial status with the fields named', async () => {
    const res = await post(
      '/validate',
      review({ name: 'cm1', object: { metadata: { name: 'cm1' }, data: { color: 'pink' } } }),
    );
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as AdmissionReview;
    expect(body).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'b3e3c1c4-0000-4000-8000-000000000001',
        allowed: false,
        status: {
          code: 403,
          reason: 'Forbidden',
          message: 'ConfigMap cm1 has a bad color: data.color: pink is not red, green or blue',
          details: {
            causes: [
              {
                field: 'data.color',
                message: 'pink is not red, green or blue',
                reason: 'FieldValueInvalid',
              },
            ],
          },
        },
      },
    });
    const ok = JSON.parse(
      (await post('/validate', review({ object: {} }))).body,
    ) as AdmissionReview;
    expect(ok.response).toEqual({
      uid: 'b3e3c1c4-0000-4000-8000-000000000001',
      allowed: true,
      warnings: ['no color set'],
    });
  });

  it('answers a mutation with a base64 JSON patch, and no patch when nothing changes', async () => {
    const object = { metadata: { name: 'm', labels: { x: 'y' } }, data: { secret: 's', k: 'v' } };
    const res = JSON.parse((await post('/mutate', review({ object }))).body) as AdmissionReview;
    expect(res.response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(res.response!.patch!, 'base64').toString()) as JsonPatchOp[];
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/labels/a~1b', value: 'c' },
      { op: 'remove', path: '/data/secret' },
    ]);
    const same = { metadata: { name: 'm', labels: { 'a/b': 'c' } } };
    const unchanged = JSON.parse((await post('/mutate', review({ object: same }))).body);
    expect(unchanged.response).toEqual({
      uid: 'b3e3c1c4-0000-4000-8000-000000000001',
      allowed: true,
    });
    const deletion = review({ operation: 'DELETE', object: null, oldObject: same });
    expect(JSON.parse((await post('/mutate', deletion)).body).response.allowed).toBe(true);
  });

  it('turns a throwing handler into a 500 denial and logs it', async () => {
    const res = JSON.parse((await post('/boom', review({ object: {} }))).body) as AdmissionReview;
    expect(res.response).toMatchObject({
      allowed: false,
      status: { code: 500, message: 'handler exploded' },
    });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        msg: 'admission handler failed',
        err: expect.objectContaining({ message: 'handler exploded' }),
      }),
    );
  });

  it('reloads rewritten files, keeping the old pair while the new one is broken', async () => {
    const before = await serverPair(dir, ca, 'serving');
    expect(await servedFingerprint(server.port)).not.toBe(fingerprint(before.certPem));
    await writeFile(certFile(), before.certPem);
    await writeFile(keyFile(), before.keyPem);
    await expect.poll(() => servedFingerprint(server.port)).toBe(fingerprint(before.certPem));

    // Half a rotation: a new certificate with the old key.
    const unusable = () =>
      logs.lines.filter((l) => l.msg.startsWith('new serving certificate unusable')).length;
    const warned = unusable();
    const otherCa = await createCA(dir, 'other-ca');
    const next = await serverPair(dir, otherCa, 'next');
    await writeFile(certFile(), next.certPem);
    await expect.poll(unusable).toBeGreaterThan(warned);
    expect(await servedFingerprint(server.port)).toBe(fingerprint(before.certPem));
    expect((await call(server.port, ca.certPem, 'GET', '/healthz')).status).toBe(200);

    await writeFile(keyFile(), next.keyPem);
    await expect.poll(() => servedFingerprint(server.port)).toBe(fingerprint(next.certPem));
    expect((await call(server.port, otherCa.certPem, 'GET', '/healthz')).status).toBe(200);
  });

  it('stops promptly, closing kept-alive connections', async () => {
    const pair = await serverPair(dir, ca, 'stop');
    const other = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: pair.certPath,
      keyFile: pair.keyPath,
      shutdownTimeoutMs: 30_000,
    });
    await other.start();
    const port = other.port;
    const agent = new Agent({ keepAlive: true, ca: ca.certPem });
    const closed = new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        // The socket goes back to the agent's pool once the response is read.
        res.socket.once('close', () => resolve());
        res.resume();
      })
        .on('error', reject)
        .end();
    });
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    await other.stop();
    await closed;
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(servedFingerprint(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(() => other.port).toThrow(/not started/);
    agent.destroy();
  });
});

const LABEL = 'chousei.test/webhook';

function apiMessage(err: unknown): string {
  if (!(err instanceof ApiException)) throw err;
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return `${err.code} ${(body as { message?: string }).message}`;
}

/** 'accepted', or the API error's code and message. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    return apiMessage(err);
  }
}

describe('WebhookServer behind a real kube-apiserver', () => {
  const run = Math.random().toString(36).slice(2, 8);
  let dir: string;
  let ca: KeyPair;
  let server: WebhookServer;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  const validatingNames: string[] = [];
  const mutatingNames: string[] = [];
  const servers: WebhookServer[] = [];
  const seen: ConfigMapRequest[] = [];
  let n = 0;

  /** A namespace that only this file's webhooks select, by its `role`. */
  async function labelledNamespace(role: string): Promise<string> {
    const name = `webhook-${role}-${run}`;
    await core.createNamespace({
      body: { metadata: { name, labels: { [LABEL]: `${run}-${role}` } } },
    });
    return name;
  }

  function webhook(
    name: string,
    port: number,
    path: string,
    caPem: string,
    role: string,
  ): V1ValidatingWebhook {
    return {
      name,
      clientConfig: {
        url: `https://127.0.0.1:${port}${path}`,
        caBundle: Buffer.from(caPem).toString('base64'),
      },
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
      namespaceSelector: { matchLabels: { [LABEL]: `${run}-${role}` } },
      rules: [
        {
          apiGroups: [''],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['configmaps'],
          scope: 'Namespaced',
        },
      ],
    };
  }

  async function createValidating(role: string, hook: V1ValidatingWebhook): Promise<string> {
    const name = `chousei-test-${role}-${run}`;
    await admission.createValidatingWebhookConfiguration({
      body: { metadata: { name }, webhooks: [hook] },
    });
    validatingNames.push(name);
    return name;
  }

  const createConfigMap = (namespace: string, data: Record<string, string>, name = `cm-${++n}`) =>
    core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data } });

  beforeAll(async () => {
    const cluster = await sharedCluster();
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    admission = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    dir = await mkdtemp(join(tmpdir(), 'chousei-webhook-'));
    ca = await createCA(dir, 'ca');
    const pair = await serverPair(dir, ca, 'serving');
    server = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: pair.certPath,
      keyFile: pair.keyPath,
    });
    servers.push(server);
    server.register('/validate', colorPolicy(seen));
    server.register(
      '/mutate',
      mutatingHandler<V1ConfigMap>((cm) => {
        cm.metadata!.labels = { ...cm.metadata!.labels, 'chousei.test/mutated': 'true' };
        cm.data = { ...cm.data, injected: 'yes' };
      }),
    );
    await server.start();
  });

  afterAll(async () => {
    // Configurations first: with failurePolicy Fail they must not outlive their server.
    const ignoreMissing = (err: unknown) => {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    };
    await Promise.all([
      ...validatingNames.map((name) =>
        admission.deleteValidatingWebhookConfiguration({ name }).catch(ignoreMissing),
      ),
      ...mutatingNames.map((name) =>
        admission.deleteMutatingWebhookConfiguration({ name }).catch(ignoreMissing),
      ),
    ]);
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('makes the API server reject what the validating handler denies', async () => {
    const namespace = await labelledNamespace('validate');
    await createValidating(
      'validate',
      webhook('validate.chousei.test', server.port, '/validate', ca.certPem, 'validate'),
    );

    // Until the API server has loaded the configuration, creates pass unchecked.
    await expect
      .poll(() => outcome(createConfigMap(namespace, { color: 'pink' })), { timeout: 20_000 })
      .not.toBe('accepted');
    const err = await createConfigMap(namespace, { color: 'pink' }, 'pink').catch((e) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect(err.code).toBe(403);
    const status = JSON.parse(typeof err.body === 'string' ? err.body : JSON.stringify(err.body));
    expect(status).toMatchObject({
      reason: 'Forbidden',
      message:
        'admission webhook "validate.chousei.test" denied the request: ' +
        'ConfigMap pink has a bad color: data.color: pink is not red, green or blue',
      details: { causes: [{ field: 'data.color', reason: 'FieldValueInvalid' }] },
    });

    const created = await createConfigMap(namespace, { color: 'red' }, 'red');
    expect(created.data).toEqual({ color: 'red' });
    const req = seen.find((r) => r.name === 'red' && r.operation === 'CREATE');
    expect(req).toMatchObject({
      namespace,
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      userInfo: { username: 'admin' },
      dryRun: false,
      object: { data: { color: 'red' } },
    });

    // UPDATEs go through the handler too, with the stored object as oldObject.
    const update = core.replaceNamespacedConfigMap({
      name: 'red',
      namespace,
      body: { ...created, data: { color: 'teal' } },
    });
    expect(await outcome(update)).toContain('ConfigMap red has a bad color');
    expect(seen.at(-1)).toMatchObject({
      operation: 'UPDATE',
      oldObject: { data: { color: 'red' } },
    });

    // Namespaces without the label are not this webhook's business.
    const elsewhere = await sharedCluster().then((c) => c.createNamespace('webhook-unlabelled'));
    expect(await outcome(createConfigMap(elsewhere, { color: 'pink' }))).toBe('accepted');
  });

  it('makes the API server store what the mutating handler changed', async () => {
    const namespace = await labelledNamespace('mutate');
    const name = `chousei-test-mutate-${run}`;
    const hook = webhook('mutate.chousei.test', server.port, '/mutate', ca.certPem, 'mutate');
    await admission.createMutatingWebhookConfiguration({
      body: { metadata: { name }, webhooks: [{ ...hook, reinvocationPolicy: 'Never' }] },
    });
    mutatingNames.push(name);

    await expect
      .poll(
        async () =>
          (await createConfigMap(namespace, { k: 'v' })).metadata?.labels?.['chousei.test/mutated'],
        { timeout: 20_000 },
      )
      .toBe('true');
    await createConfigMap(namespace, { k: 'v' }, 'mutated');
    const stored = await core.readNamespacedConfigMap({ name: 'mutated', namespace });
    expect(stored.metadata?.labels).toEqual({ 'chousei.test/mutated': 'true' });
    expect(stored.data).toEqual({ k: 'v', injected: 'yes' });
  });

  it('serves a rotated Secret, which the API server trusts once its caBundle is updated', async () => {
    const namespace = await labelledNamespace('rotate');
    // A Secret volume as the kubelet writes it: files behind a `..data` symlink that is
    // swapped atomically to a new timestamped directory.
    const secretDir = join(dir, 'secret');
    await mkdir(secretDir);
    const writeSecret = async (version: string, pair: KeyPair) => {
      await mkdir(join(secretDir, version));
      await writeFile(join(secretDir, version, 'tls.crt'), pair.certPem);
      await writeFile(join(secretDir, version, 'tls.key'), pair.keyPem);
      await symlink(version, join(secretDir, '..data_tmp'));
      await rename(join(secretDir, '..data_tmp'), join(secretDir, '..data'));
    };
    const pki = join(dir, 'rotation');
    await mkdir(pki);
    const ca1 = await createCA(pki, 'ca1');
    const pair1 = await serverPair(pki, ca1, 'pair1');
    await writeSecret('..2025_01_01_00_00_00.1', pair1);
    await symlink('..data/tls.crt', join(secretDir, 'tls.crt'));
    await symlink('..data/tls.key', join(secretDir, 'tls.key'));

    const rotating = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certDir: secretDir,
      // Leave the reload to the directory watch, not the fallback poll.
      certPollIntervalMs: 600_000,
    });
    servers.push(rotating);
    rotating.register('/validate', colorPolicy());
    rotating.register('/validate-rotated', colorPolicy(undefined, ' (rotated)'));
    await rotating.start();
    expect(await servedFingerprint(rotating.port)).toBe(fingerprint(pair1.certPem));

    const hook = webhook('rotate.chousei.test', rotating.port, '/validate', ca1.certPem, 'rotate');
    const configName = await createValidating('rotate', hook);
    await expect
      .poll(() => outcome(createConfigMap(namespace, { color: 'pink' })), { timeout: 20_000 })
      .toContain('has a bad color: data.color');

    const ca2 = await createCA(pki, 'ca2');
    const pair2 = await serverPair(pki, ca2, 'pair2');
    await writeSecret('..2025_01_02_00_00_00.2', pair2);
    await rm(join(secretDir, '..2025_01_01_00_00_00.1'), { recursive: true });
    await expect.poll(() => servedFingerprint(rotating.port)).toBe(fingerprint(pair2.certPem));

    // The new caBundle gets a new client (and connections) in the API server; the new
    // path tells its calls apart from any made on connections kept from before.
    const current = await admission.readValidatingWebhookConfiguration({ name: configName });
    current.webhooks = [
      webhook('rotate.chousei.test', rotating.port, '/validate-rotated', ca2.certPem, 'rotate'),
    ];
    await admission.replaceValidatingWebhookConfiguration({ name: configName, body: current });
    await expect
      .poll(() => outcome(createConfigMap(namespace, { color: 'pink' })), { timeout: 20_000 })
      .toContain('has a bad color (rotated): data.color');
    expect(await outcome(createConfigMap(namespace, { color: 'blue' }))).toBe('accepted');
  });
});
