import { request } from 'node:http';
import {
  Cache,
  Client,
  createLogger,
  HTTPRoutes,
  Ingresses,
  type KubeObject,
} from '@chousei/runtime';
import { waitFor } from '@chousei/runtime/testing';
import { installGatewayApi } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRoute } from '../src/solvers/http01/gateway-route.js';
import { ingressRoute } from '../src/solvers/http01/ingress-route.js';
import { RoutedSolver, TemporaryRoutes } from '../src/solvers/http01/routed.js';
import { HTTP01Solver } from '../src/solvers/index.js';

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP01Solver', () => {
  const solver = new HTTP01Solver();
  const ch = {
    identifier: 'www.example.test',
    token: 'tok_EN-1',
    keyAuthorization: 'tok_EN-1.thumb',
  };

  beforeAll(() => solver.start(0, '127.0.0.1'));
  afterAll(() => solver.stop());

  it('serves a presented token as text/plain', async () => {
    await solver.present(ch);
    const res = await get(solver.port, `/.well-known/acme-challenge/${ch.token}`);
    expect(res).toEqual({ status: 200, type: 'text/plain', body: ch.keyAuthorization });
    // Validation servers may add a query string; HEAD answers without a body.
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}?x=1`)).status).toBe(
      200,
    );
    expect(await get(solver.port, `/.well-known/acme-challenge/${ch.token}`, 'HEAD')).toMatchObject(
      {
        status: 200,
        body: '',
      },
    );
  });

  it('answers 404 for other paths, methods and unknown tokens', async () => {
    await solver.present(ch);
    for (const path of [
      '/.well-known/acme-challenge/unknown',
      '/.well-known/acme-challenge/',
      `/.well-known/acme-challenge/${ch.token}/x`,
      `/${ch.token}`,
      '/',
    ]) {
      expect((await get(solver.port, path)).status, path).toBe(404);
    }
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}`, 'POST')).status).toBe(
      404,
    );
  });

  it('stops serving a token after cleanUp, keeping the others', async () => {
    const other = { ...ch, token: 'other', keyAuthorization: 'other.thumb' };
    await solver.present(ch);
    await solver.present(other);
    await solver.cleanUp(ch);
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}`)).status).toBe(404);
    expect((await get(solver.port, '/.well-known/acme-challenge/other')).body).toBe('other.thumb');
    await solver.cleanUp(other);
    await solver.cleanUp(other); // twice is harmless
    expect((await get(solver.port, '/.well-known/acme-challenge/other')).status).toBe(404);
  });
});

describe('HTTP01Solver on several replicas', () => {
  it.each([
    ['Ingress', () => ingressRoute(undefined)],
    ['HTTPRoute', () => httpRoute([{ name: 'edge' }])],
  ] as const)(
    'answers a token another replica routed, from its %s cache, until it is cleaned up',
    async (kind, route) => {
      const cluster = await sharedCluster();
      await installGatewayApi(cluster, 'experimental');
      const ns = await cluster.createNamespace('http01');
      const client = new Client(cluster.kubeConfig);
      const stop = new AbortController();
      const cache = new Cache(client.transport);
      cache.start(stop.signal);
      // The leader presents and routes; the Service sends the CA's request to the standby.
      const leader = new RoutedSolver<KubeObject>(
        new HTTP01Solver(),
        client,
        { namespace: ns, name: 'cert-operator-http01', port: 8089 },
        route(),
        createLogger({ level: 'silent' }),
      );
      const resource = kind === 'Ingress' ? Ingresses : HTTPRoutes;
      const standby = new HTTP01Solver(
        new TemporaryRoutes(cache, ns, [{ resource, scope: {} }]).keyAuthorization,
      );
      await standby.start(0, '127.0.0.1');
      const ch = {
        identifier: 'ha.example.test',
        token: 'ha_Tok-3',
        keyAuthorization: 'ha_Tok-3.th',
      };
      const path = `/.well-known/acme-challenge/${ch.token}`;
      try {
        expect((await get(standby.port, path)).status).toBe(404);
        await leader.present(ch);
        const res = await waitFor(async () => {
          const r = await get(standby.port, path);
          return r.status === 200 && r;
        });
        expect(res.body).toBe(ch.keyAuthorization);
        // A token is only answered by its own key authorization, not by a prefix match.
        expect((await get(standby.port, '/.well-known/acme-challenge/ha_Tok')).status).toBe(404);
        await leader.cleanUp(ch);
        await waitFor(async () => (await get(standby.port, path)).status === 404);
      } finally {
        await standby.stop();
        stop.abort();
      }
    },
  );
});
