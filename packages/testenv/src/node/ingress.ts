// The part of an ingress controller a node's tests need: a load balancer address in the
// node that routes HTTP by the Ingresses' hosts and paths to their backend Services'
// ClusterIPs (kube-proxy then picks a Pod), as ingress-nginx would.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  type V1HTTPIngressPath,
  type V1Ingress,
} from '@kubernetes/client-node';
import { freePort } from '../ports.js';
import type { NodeNetwork } from './network.js';

export interface IngressController {
  /** The load balancer's address in the node (port 80): what Ingress status should name. */
  address: string;
  stop(): Promise<void>;
}

interface Route {
  namespace: string;
  path: V1HTTPIngressPath;
}

/** The Ingress path `url` takes on `host`: the longest matching one, Exact before Prefix. */
export function routeFor(ingresses: V1Ingress[], host: string, url: string): Route | undefined {
  const path = url.split('?')[0] ?? '/';
  const matches: Array<Route & { score: number }> = [];
  for (const ing of ingresses) {
    for (const rule of ing.spec?.rules ?? []) {
      if (rule.host && rule.host !== host) continue;
      for (const p of rule.http?.paths ?? []) {
        const want = p.path ?? '/';
        const exact = p.pathType === 'Exact';
        const prefix = want.endsWith('/') ? want : `${want}/`;
        const hit = exact
          ? path === want
          : path === want || path.startsWith(prefix) || want === '/';
        if (hit) {
          const score = want.length * 2 + (exact ? 1 : 0);
          matches.push({ namespace: ing.metadata?.namespace ?? 'default', path: p, score });
        }
      }
    }
  }
  return matches.sort((a, b) => b.score - a.score)[0];
}

/**
 * Listens on `address`:80 in the node (an address added to it) and proxies each request
 * to its Ingress backend's ClusterIP, through the node's bridge.
 */
export async function startIngressController(
  network: NodeNetwork,
  kubeConfig: KubeConfig,
  address = '10.88.0.80',
): Promise<IngressController> {
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const backend = async (req: IncomingMessage) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const { items } = await networking.listIngressForAllNamespaces();
    const route = routeFor(items, host, req.url ?? '/');
    const service = route?.path.backend.service;
    if (!route || !service) return undefined;
    const svc = await core.readNamespacedService({
      namespace: route.namespace,
      name: service.name,
    });
    const port =
      service.port?.number ??
      svc.spec?.ports?.find((p) => p.name === service.port?.name)?.port ??
      undefined;
    const ip = svc.spec?.clusterIP;
    return ip && port ? { host: ip, port } : undefined;
  };

  const proxy = async (req: IncomingMessage, res: ServerResponse) => {
    const target = await backend(req).catch(() => undefined);
    if (!target) return void res.writeHead(404).end('no Ingress backend\n');
    const upstream = request({
      method: req.method,
      path: req.url,
      headers: req.headers,
      createConnection: (_opts, done: (err: Error | null, socket: Socket) => void) => {
        network.connect(target).then(
          (s) => done(null, s),
          (err: Error) => done(err, undefined as never),
        );
        return undefined as never;
      },
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`${err.message}\n`);
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => void proxy(req, res));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await network.addAddress(address);
  await network.forwardToHost(port, { listenHost: address, listenPort: 80 });
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
