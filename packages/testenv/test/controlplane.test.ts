import type { IncomingMessage } from 'node:http';
import { type RequestOptions, request } from 'node:https';
import { createInterface } from 'node:readline';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  VersionApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_PLANE_VERSIONS,
  type ControlPlane,
  gatewayApiVersion,
  installGatewayApi,
  startControlPlane,
} from '../src/index.js';

const CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.chousei.dev
spec:
  group: test.chousei.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer }
`;

/** A raw watch: resolves once the server accepted it, then yields its events. */
async function watchEvents<T>(cp: ControlPlane, path: string): Promise<AsyncGenerator<T>> {
  const opts: RequestOptions = {};
  await cp.kubeConfig.applyToHTTPSOptions(opts);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request(`${cp.url}${path}`, opts, resolve).on('error', reject).end();
  });
  if (res.statusCode !== 200) {
    res.destroy();
    throw new Error(`watch ${path}: HTTP ${res.statusCode}`);
  }
  return (async function* () {
    try {
      for await (const line of createInterface({ input: res })) yield JSON.parse(line) as T;
    } finally {
      res.destroy();
    }
  })();
}

describe('control plane', () => {
  let cp: ControlPlane;
  let startSeconds = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    cp = await startControlPlane();
    startSeconds = (performance.now() - t0) / 1000;
    console.log(`control plane start to ready: ${startSeconds.toFixed(2)} s`);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('starts a real kube-apiserver of the pinned version in under 10 s', async () => {
    const version = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(CONTROL_PLANE_VERSIONS.kubernetes);
    expect(startSeconds).toBeLessThan(10);
  });

  it('installs a CRD and creates and watches a custom object', async () => {
    await cp.apply(CRD);
    const ns = await cp.createNamespace();
    // A just-established CRD may answer 429 (watch cache initializing) for a moment.
    const path = `/apis/test.chousei.dev/v1/namespaces/${ns}/widgets?watch=true`;
    type WidgetEvent = { type: string; object: { metadata: { name: string } } };
    let events: AsyncGenerator<WidgetEvent> | undefined;
    await expect
      .poll(async () => {
        events = await watchEvents<WidgetEvent>(cp, path).catch(() => undefined);
        return !!events;
      })
      .toBe(true);
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'test.chousei.dev',
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      body: {
        apiVersion: 'test.chousei.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w1' },
        spec: { size: 3 },
      },
    });
    const first = await events!.next();
    expect(first.value).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'w1' } } });
    await events!.return(undefined);
  });

  it("installs Gateway API's CRDs of either channel from its module, and takes status as a controller sets it", async () => {
    const crds = await installGatewayApi(cp, 'standard');
    const kinds = crds.map((c) => (c as { spec: { names: { kind: string } } }).spec.names.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', 'TLSRoute']),
    );
    expect(kinds).toEqual(expect.arrayContaining(['TCPRoute', 'UDPRoute']));
    expect(crds[0]?.metadata?.annotations?.['gateway.networking.k8s.io/bundle-version']).toBe(
      gatewayApiVersion(),
    );
    const ns = await cp.createNamespace();
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const gw = {
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'gateways',
    };
    await custom.createNamespacedCustomObject({
      ...gw,
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'gw' },
        spec: {
          gatewayClassName: 'none',
          listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
        },
      },
    });
    await custom.patchNamespacedCustomObjectStatus(
      {
        ...gw,
        name: 'gw',
        body: { status: { addresses: [{ type: 'IPAddress', value: '192.0.2.1' }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const read = (await custom.getNamespacedCustomObject({ ...gw, name: 'gw' })) as {
      status: { addresses: Array<{ value: string }> };
    };
    expect(read.status.addresses).toEqual([{ type: 'IPAddress', value: '192.0.2.1' }]);

    // The experimental channel over it: the alpha TCPRoute version is served too.
    const experimental = await installGatewayApi(cp, 'experimental');
    expect(experimental.map((c) => c.metadata?.name)).toContain(
      'xbackendtrafficpolicies.gateway.networking.x-k8s.io',
    );
    await custom.listNamespacedCustomObject({ ...gw, version: 'v1alpha2', plural: 'tcproutes' });
  });

  it('denies a ServiceAccount without a RoleBinding and allows it with one', async () => {
    const ns = await cp.createNamespace();
    const saConfig = await cp.serviceAccountKubeConfig(ns, 'reader');
    const asSa = saConfig.makeApiClient(CoreV1Api);
    await expect(asSa.listNamespacedConfigMap({ namespace: ns })).rejects.toMatchObject({
      code: 403,
    });

    const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'cm-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'cm-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cm-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    // RBAC is read from the API server's cache: allow a moment for the binding to arrive.
    await expect
      .poll(async () => (await asSa.listNamespacedConfigMap({ namespace: ns })).items.length, {
        timeout: 5000,
      })
      .toBeGreaterThanOrEqual(0);
    await expect(asSa.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
  });

  it('mints client-certificate users with their groups', async () => {
    const user = await cp.userKubeConfig('alice', ['system:masters']);
    const core = user.makeApiClient(CoreV1Api);
    expect((await core.readNamespace({ name: 'default' })).metadata?.name).toBe('default');
    const nobody = (await cp.userKubeConfig('bob')).makeApiClient(CoreV1Api);
    await expect(nobody.readNamespace({ name: 'default' })).rejects.toMatchObject({ code: 403 });
  });

  it('keeps its data across an API server restart', async () => {
    const ns = await cp.createNamespace();
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'kept' }, data: { a: '1' } },
    });
    await cp.restartApiServer();
    const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'kept' });
    expect(cm.data).toEqual({ a: '1' });
  });
});
