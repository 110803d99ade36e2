import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectProcessMetrics, metricsRegistry } from '../metrics/registry.js';

/**
 * A check's outcome with a note for people: passing with a caveat (`{ ok: true, detail:
 * 'no zone managed' }`) keeps the probe green and shows in its body, as kube-apiserver's
 * `/readyz?verbose` names what each check saw.
 */
export interface CheckResult {
  ok: boolean;
  detail?: string;
}

/** A named health or readiness check: resolves true (or `{ ok: true }`) when healthy. */
export type Check = () => boolean | CheckResult | Promise<boolean | CheckResult>;

/**
 * Serves /healthz and /readyz (200 only if every check passes; the body lists each check,
 * `[+]name ok` or `[-]name failed`, with its detail after a colon) and, when asked,
 * /metrics in the Prometheus text format.
 */
export class ProbeServer {
  private server: Server | undefined;
  readonly health = new Map<string, Check>();
  readonly ready = new Map<string, Check>();

  constructor(
    private readonly port: number,
    private readonly host = '0.0.0.0',
    private readonly serveMetrics = false,
  ) {}

  /** The bound port (useful when asked for port 0). */
  get boundPort(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.port;
  }

  async start(): Promise<void> {
    if (this.serveMetrics) collectProcessMetrics();
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const checks =
        path === '/healthz' ? this.health : path === '/readyz' ? this.ready : undefined;
      if (checks) {
        void runChecks(checks).then(({ ok, lines }) => {
          res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
          res.end(`${lines.join('\n')}\n${ok ? 'ok' : 'failed'}\n`);
        });
        return;
      }
      if (path === '/metrics' && this.serveMetrics) {
        void metricsRegistry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': metricsRegistry.contentType });
          res.end(text);
        });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, this.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

async function runChecks(checks: Map<string, Check>): Promise<{ ok: boolean; lines: string[] }> {
  let ok = true;
  const lines: string[] = [];
  for (const [name, check] of checks) {
    const outcome = await Promise.resolve()
      .then(check)
      .catch((): CheckResult => ({ ok: false }));
    const { ok: passed, detail }: CheckResult =
      typeof outcome === 'boolean' ? { ok: outcome } : outcome;
    ok &&= passed;
    const line = `[${passed ? '+' : '-'}]${name} ${passed ? 'ok' : 'failed'}`;
    lines.push(detail ? `${line}: ${detail.replace(/\s*\n\s*/g, ' ')}` : line);
  }
  return { ok, lines };
}
