import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client, Secrets } from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { type Bind9, freePort, type Pebble, startBind9, startPebble } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates } from '../src/api/types.js';
import { registerACMEServer } from '../src/issuers/acme/http.js';
import { startCertOperator } from './operator.js';
import { ordersOf, pebbleIssuer } from './pebble-account.js';
import { secretText } from './secret-text.js';

// The process to kill is the built command (`./pnpmw test` builds it first).
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PREFIX = '/.well-known/acme-challenge/';

/** A validation request of Pebble's, as the gate saw it, and what the solver answered. */
interface Validation {
  token: string;
  status?: number;
  body?: string;
}

/**
 * Stands between Pebble's VA and the HTTP-01 solver port (as the network between a CA and
 * the operator's pods does) and holds validation requests until released. Pebble's own VA
 * sleep is random (0 to PEBBLE_VA_SLEEPTIME-1 s for each of its 3 concurrent requests), so
 * it cannot promise the challenge is still being validated across a restart; this can.
 */
async function startGate(solverPort: number) {
  const seen: Validation[] = [];
  let release!: () => void;
  let open!: Promise<void>;
  const hold = () => {
    seen.length = 0;
    open = new Promise((resolve) => {
      release = resolve;
    });
  };
  hold();
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const v: Validation = { token: path.startsWith(PREFIX) ? path.slice(PREFIX.length) : path };
    seen.push(v);
    await open;
    try {
      const answer = await fetch(`http://127.0.0.1:${solverPort}${path}`);
      v.status = answer.status;
      v.body = await answer.text();
    } catch {
      v.status = 502; // the solver is not listening
    }
    res.writeHead(v.status, { 'content-type': 'text/plain' }).end(v.body ?? '');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    /** Holds the requests from now on (and forgets those seen). */
    hold,
    release: () => release(),
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('cert-operator restarted in the middle of an ACME order (HTTP-01, Pebble)', () => {
  let bind: Bind9;
  let pebble: Pebble;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let client: Client;
  let ns: string;
  let solverPort: number;
  const running: RunningManager[] = [];
  const children: ChildProcess[] = [];

  /** The operator in this process, as a new process would have it: its own issuers and tokens. */
  async function startOperator(): Promise<{ stop(): Promise<void>; logs: string[] }> {
    const cluster = await sharedCluster();
    const { running: m, logs } = await startCertOperator(
      {
        clusterResourceNamespace: ns,
        http01SolverPort: solverPort,
        http01SolverHost: '127.0.0.1',
        // Straight to the solver: the gate is Pebble's way in, and counts only its requests.
        http01SelfCheck: { port: solverPort, nameservers: [bind] },
        backoff: { initialMs: 1000, maxMs: 2000 },
      },
      // The admin kubeconfig and info level, as the spawned process has them.
      { level: 'info', capture: true, kubeConfig: cluster.kubeConfig },
    );
    running.push(m);
    // One operator at a time owns the solver port.
    onTestFinished(() => m.stop().catch(() => undefined));
    // Its log says what it did with the saved order: shown when the test fails.
    onTestFailed(() => console.log(`in-process operator log:\n${logs.join('')}`));
    return { stop: () => m.stop(), logs };
  }

  /** The operator command in a process of its own (built dist/main.js), to be killed. */
  async function spawnOperator(): Promise<ChildProcess> {
    const cluster = await sharedCluster();
    const kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`);
    const child = spawn(
      process.execPath,
      [
        main,
        `--kubeconfig=${kubeconfig}`,
        `--cluster-resource-namespace=${ns}`,
        `--http01-solver-port=${solverPort}`,
        `--http01-self-check-port=${solverPort}`,
        `--http01-self-check-nameservers=${bind.address}`,
        '--metrics-port=0',
        '--health-port=0',
        '--bind-address=127.0.0.1',
        '--backoff-initial=1s',
        '--backoff-max=2s',
        '--log-level=info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    onTestFailed(() => console.log(`operator process log:\n${output.join('')}`));
    children.push(child);
    onTestFinished(() => void child.kill('SIGKILL'));
    return child;
  }

  /** The Certificate's order URL once recorded, and the tokens once Pebble validates them. */
  async function orderInValidation(name: string, names: string[]) {
    const orderUrl = await waitFor(
      async () => (await client.get(Certificates, { namespace: ns, name })).status?.acmeOrder?.url,
      { timeoutMs: 20_000, description: `${name}: order URL in the status` },
    );
    const tokens = await waitFor(
      () => {
        const t = [...new Set(gate.seen.map((v) => v.token))];
        return t.length === names.length && t;
      },
      { timeoutMs: 20_000, description: `${name}: Pebble validating every challenge` },
    );
    return { orderUrl, tokens };
  }

  /** Whether the solver port answers every token with its key authorization. */
  async function solverServes(tokens: string[]): Promise<boolean> {
    const answers = await Promise.all(
      tokens.map((t) =>
        fetch(`http://127.0.0.1:${solverPort}${PREFIX}${t}`).then(
          async (r) => r.status === 200 && (await r.text()).startsWith(`${t}.`),
          () => false,
        ),
      ),
    );
    return answers.every(Boolean);
  }

  /** The Secret holds the order's certificate, for the names, and its own key. */
  async function expectIssuedFrom(account: acme.Client, orderUrl: string, secretName: string) {
    const order = await account.getOrder({ url: orderUrl } as acme.Order);
    expect(order.status).toBe('valid');
    const secret = await client.get(Secrets, { namespace: ns, name: secretName });
    const leafPem = acme.crypto.splitPemChain(secretText(secret, 'tls.crt'))[0]!;
    expect(acme.crypto.splitPemChain(await account.getCertificate(order))[0]).toBe(leafPem);
    const leaf = new X509Certificate(leafPem);
    const intermediate = new X509Certificate(await pebble.intermediateCertificate());
    expect(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey)).toBe(true);
    for (const { value } of order.identifiers)
      expect(leaf.subjectAltName).toContain(`DNS:${value}`);
    expect(leaf.publicKey.export({ format: 'jwk' })).toEqual(
      createPublicKey(secretText(secret, 'tls.key')).export({ format: 'jwk' }),
    );
  }

  beforeAll(async () => {
    bind = await startBind9({ records: { 'example.test': ['* 300 IN A 127.0.0.1'] } });
    solverPort = await freePort();
    gate = await startGate(solverPort);
    // Pebble validates through the gate, with no sleep of its own.
    pebble = await startPebble({ httpPort: gate.port, dnsServer: bind.address });
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('restart');
    client = new Client(cluster.kubeConfig);
    // The test's own ACME client trusts Pebble's TLS CA as the operator's issuers do.
    registerACMEServer(pebble.directoryUrl, pebble.tlsCaPem);
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await gate?.close();
    for (const m of running) await m.stop().catch(() => undefined);
    await pebble?.stop();
    await bind?.stop();
  });

  it('killed while Pebble validates: the next process resumes the order and answers the challenges', async () => {
    const started = performance.now();
    gate.hold();
    const first = await spawnOperator();
    const account = await pebbleIssuer(client, pebble, ns, 'killed');
    const names = ['a.killed.example.test', 'b.killed.example.test'];
    await client.create(Certificates, {
      metadata: { name: 'killed', namespace: ns },
      spec: { secretName: 'killed-tls', issuerRef: { name: 'killed' }, dnsNames: names },
    });
    const { orderUrl, tokens } = await orderInValidation('killed', names);

    // Pebble's view: the challenges were submitted and are being validated.
    const order = await account.getOrder({ url: orderUrl } as acme.Order);
    const authzs = await account.getAuthorizations(order);
    expect(authzs.map((a) => a.status)).toEqual(['pending', 'pending']);
    const challenges = authzs.map((a) => a.challenges.find((c) => c.type === 'http-01')!);
    expect(challenges.map((c) => c.token).sort()).toEqual([...tokens].sort());
    for (const c of challenges) {
      // RFC 8555 says `processing`; Pebble keeps `pending` and dates the validation.
      expect(['pending', 'processing']).toContain(c.status);
      expect(c.validated).toBeDefined();
    }

    // Killed: no clean-up, no last status write; the tokens die with the process.
    first.kill('SIGKILL');
    await once(first, 'exit');
    const killedAt = performance.now();
    expect(
      (await client.get(Certificates, { namespace: ns, name: 'killed' })).status?.acmeOrder?.url,
    ).toBe(orderUrl);
    expect(await solverServes(tokens)).toBe(false);
    // As a failed attempt leaves the status when its order is kept for the next one.
    const killed = await client.get(Certificates, { namespace: ns, name: 'killed' });
    const stale = (killed.status?.conditions ?? []).map((c) =>
      c.type === 'Issuing'
        ? { ...c, status: 'False', reason: 'Failed', message: 'the attempt before' }
        : c,
    );
    await client.patchStatus(
      Certificates,
      { namespace: ns, name: 'killed' },
      { type: 'merge', patch: { status: { conditions: stale } } },
    );

    await startOperator();
    // The new process answers tokens of challenges it never submitted itself.
    await waitFor(() => solverServes(tokens), {
      timeoutMs: 10_000,
      description: 'the new solver answering the tokens under validation',
    });
    // And its status says it is issuing again, under the saved order.
    const resumed = await client.get(Certificates, { namespace: ns, name: 'killed' });
    expect(resumed.status?.acmeOrder?.url).toBe(orderUrl);
    expect(resumed.status?.conditions?.find((c) => c.type === 'Issuing')).toMatchObject({
      status: 'True',
      reason: 'DoesNotExist',
    });
    // The validations Pebble started before the kill.
    const held = [...gate.seen];
    gate.release();
    const ready = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'killed' },
      'Ready',
      { timeoutMs: 20_000 },
    );
    console.log(
      `killed mid-validation: restart to Ready ${(performance.now() - killedAt).toFixed(0)} ms, ` +
        `all ${(performance.now() - started).toFixed(0)} ms; ${gate.seen.length} validation requests`,
    );

    // Those validations were answered by the new process, each with a key authorization,
    // and they were all: the challenges were not submitted again (Pebble keeps a challenge
    // `pending` while it validates; a second validation could end after the answer is gone).
    await waitFor(() => held.every((v) => v.status !== undefined));
    expect(gate.seen).toHaveLength(held.length);
    for (const v of held) {
      expect(v.status, v.token).toBe(200);
      expect(v.body?.startsWith(`${v.token}.`)).toBe(true);
    }
    expect(ready.status?.acmeOrder).toBeUndefined();
    expect(ready.status?.failedIssuanceAttempts).toBeUndefined();
    expect(ready.status?.revision).toBe(1);
    // The recorded order is the one that completed, and the only one the account has.
    await expectIssuedFrom(account, orderUrl, 'killed-tls');
    expect(await ordersOf(account)).toEqual([orderUrl]);
  });

  it('stopped (SIGTERM) while Pebble validates: the HTTP-01 server answers until the issuance is done', async () => {
    gate.hold();
    const operator = await startOperator();
    const account = await pebbleIssuer(client, pebble, ns, 'stopped');
    const names = ['a.stopped.example.test', 'b.stopped.example.test'];
    await client.create(Certificates, {
      metadata: { name: 'stopped', namespace: ns },
      spec: { secretName: 'stopped-tls', issuerRef: { name: 'stopped' }, dnsNames: names },
    });
    const { orderUrl, tokens } = await orderInValidation('stopped', names);

    const stopping = performance.now();
    const stopped = operator.stop();
    // Pebble is let through only once shutdown has begun, and a server that closed at its
    // start would be gone.
    await waitFor(() => operator.logs.some((l) => l.includes('"shutting down"')));
    await new Promise((r) => setTimeout(r, 200));
    gate.release();
    await stopped;
    console.log(
      `stopped mid-validation: shutdown took ${(performance.now() - stopping).toFixed(0)} ms`,
    );

    for (const v of gate.seen) expect(v.status, v.token).toBe(200);
    const cert = await client.get(Certificates, { namespace: ns, name: 'stopped' });
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(cert.status?.failedIssuanceAttempts).toBeUndefined();
    await expectIssuedFrom(account, orderUrl, 'stopped-tls');
    expect(await ordersOf(account)).toEqual([orderUrl]);
    // And the server is gone once the issuance is.
    await expect(fetch(`http://127.0.0.1:${solverPort}${PREFIX}${tokens[0]}`)).rejects.toThrow();
  });
});
