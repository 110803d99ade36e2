// `pnpm sandbox`: the whole world on this machine (see stack.ts; with --cluster, cluster.ts:
// the operators' images installed with helm on a one-node cluster), one Ingress and, beside
// it (without --cluster), a Gateway with an HTTPRoute asking for DNS names and certificates,
// and what happens to them as it happens. Then a kubeconfig to look around with, until Ctrl-C.
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Certificates, inspectCertificate, verifyChain } from '@chousei/cert-operator';
import {
  type Client,
  type Event,
  Events,
  type Gateway,
  Gateways,
  HTTPRoutes,
  Informer,
  type Ingress,
  Ingresses,
  type ObjectKey,
  Secrets,
} from '@chousei/runtime';
import {
  setGatewayAddresses,
  setRouteParents,
  waitFor,
  waitForCondition,
} from '@chousei/runtime/testing';
import { type Bind9, controlPlaneBinary, type Pebble } from '@chousei/testenv';
import { type ClusterStack, ISSUER, OPERATORS, startClusterStack } from './cluster.ts';
import { Progress } from './progress.ts';
import { GATEWAY, type Stack, startStack } from './stack.ts';

const USAGE = `Usage: pnpm sandbox [--cluster] [--exit-after-demo] [--timeout SECONDS]

Starts a control plane, BIND9, Pebble and both operators on this machine, applies an
Ingress, and a Gateway with an HTTPRoute, asking for DNS names and certificates, and shows
what happens to them. Then keeps everything running for kubectl and dig until Ctrl-C, and
cleans up.

  --cluster           run the operators as users do: their images built from the
                      Dockerfiles (buildah), installed with helm on a one-node cluster
                      (containerd, kubelet; root only); the Ingress path alone, as
                      no Gateway controller routes there. Default: as processes
  --exit-after-demo   stop after the demo: exit 0 when it worked, 1 when not
  --timeout SECONDS   fail when the demo is not done this long after start (default 120;
                      with --cluster 900, as the first run builds the images)
`;

const NAMESPACE = 'demo';
const INGRESS = 'web';
const SECRET = 'web-tls';
const ROUTE = 'shop';
const GATEWAY_SECRET = 'shop-tls';
/** How long stopping may take before the sandbox exits regardless. */
const STOP_GRACE_MS = 30_000;
/** For waits that end by the --timeout deadline or an operator's crash, raced with them. */
const FOREVER = { timeoutMs: 2 ** 31, intervalMs: 100 };

const { values: flags } = parseArgs({
  options: {
    cluster: { type: 'boolean', default: false },
    'exit-after-demo': { type: 'boolean', default: false },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
flags.timeout ??= flags.cluster ? '900' : '120';
const timeoutMs = Number(flags.timeout) * 1000;
if (!(timeoutMs > 0)) {
  process.stderr.write(`sandbox: --timeout must be a number of seconds; got "${flags.timeout}"\n`);
  process.exit(2);
}

/** What the demo needs of the world it runs in: processes (stack.ts) or a cluster. */
interface World {
  client: Client;
  ensureNamespace(name: string): Promise<void>;
  zone: string;
  /** The HTTP-01 ClusterIssuer. */
  issuer: string;
  /**
   * The HTTP-01 ClusterIssuer whose challenges go through a temporary HTTPRoute on GATEWAY,
   * where the world has Gateway API; none where no Gateway controller would route (the cluster).
   */
  gatewayIssuer?: string;
  /** The Ingress's load balancer address: where Pebble and the self-check connect. */
  address: string;
  bind: Bind9;
  pebble: Pebble;
  adminKubeconfig: string;
  /** Rejects when an operator is gone for good (a process exits; a kubelet restarts Pods). */
  crashed: Promise<never>;
  /** Where to read the operators' logs. */
  logs: string[];
  /** The end of each operator's log, for a failure's message. */
  tails(): Promise<string>;
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

function processWorld(s: Stack): World {
  return {
    ...s,
    ensureNamespace: (name) => s.cluster.ensureNamespace(name),
    issuer: s.issuers.http01,
    gatewayIssuer: s.issuers.http01Gateway,
    address: '127.0.0.1',
    logs: [s.dnsOperator.logFile, s.certOperator.logFile],
    tails: async () =>
      [s.dnsOperator, s.certOperator]
        .map((op) => `--- ${op.name}, last lines (${op.logFile}):\n${op.process.tail(15)}`)
        .concat(`Operator logs kept in ${s.dir}`)
        .join('\n'),
  };
}

function clusterWorld(s: ClusterStack): World {
  const logs = (name: string) => `kubectl -n ${name} logs deployment/${name}`;
  return {
    ...s,
    ensureNamespace: (name) => s.cluster.cp.ensureNamespace(name),
    issuer: ISSUER,
    address: s.ingress.address,
    adminKubeconfig: s.cluster.kubeconfig,
    crashed: new Promise<never>(() => {}),
    logs: OPERATORS.map(logs),
    tails: async () => {
      const tail = (name: string) =>
        s.cluster
          .kubectl('logs', '-n', name, `deployment/${name}`, '--tail=15')
          .catch((err: Error) => err.message);
      const out = await Promise.all(OPERATORS.map(async (n) => `--- ${logs(n)}\n${await tail(n)}`));
      return out.join('\n');
    },
  };
}

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const progress = new Progress();
const say = (line = '') => progress.log(line);
/** Aborted once the sandbox is to stop: a start-up under way stops and cleans up. */
const stopping = new AbortController();
let stack: World | undefined;
let demoDone = false;

/** The start-up under way or done: once aborted, it removes what it started itself. */
let starting: Promise<World> | undefined;
let exiting: Promise<never> | undefined;
/** Stops everything started, then exits; once, whoever asks first. */
function exit(code: number, opts: { keepLogs?: boolean } = {}): Promise<never> {
  exiting ??= (async () => {
    stopping.abort();
    progress.close();
    // A server that will not stop must not keep the sandbox (and its caller) waiting.
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
    await starting?.then(
      (s) => s.stop(opts),
      () => {},
    );
    process.exit(code);
  })();
  return exiting;
}

let interruptedAt = 0;
/** A signal, or nobody reading the output: stop. Ending with Ctrl-C is normal after the demo. */
function interrupt(why?: string): void {
  if (interruptedAt) {
    // Asked again: no patience left. Not within a second, though: a Ctrl-C reaches the
    // whole process group, and pnpm passes its own on to us as well.
    if (performance.now() - interruptedAt > 1000) process.exit(1);
    return;
  }
  interruptedAt = performance.now();
  if (why) say(`\n${why}: stopping everything and removing temporary files...`);
  void exit(demoDone ? 0 : 130);
}
// SIGHUP too: a closed terminal must not leave servers and files behind.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => interrupt(signal));
}
// Output piped into a reader that went away (`| head`): writing again would only fail again.
process.stdout.on('error', () => {
  if (!interruptedAt) interrupt();
});

/** Rejects when the demo is not done --timeout seconds after start, naming what it awaits. */
const deadline = new Promise<never>((_, reject) => {
  setTimeout(() => {
    const waiting = progress.running().join('; ') || 'nothing';
    reject(new Error(`timed out (--timeout ${flags.timeout} s); still waiting for: ${waiting}`));
  }, timeoutMs).unref();
});
deadline.catch(() => {}); // Only the waits that race it care.

/** The Ingress path: an Ingress with cert-manager's annotation and its load balancer. */
async function applyIngress(s: World, host: string): Promise<void> {
  const ingress: Ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: INGRESS,
      namespace: NAMESPACE,
      // cert-manager's annotation: the cert-operator reads it as its own.
      annotations: { 'cert-manager.io/cluster-issuer': s.issuer },
    },
    spec: {
      rules: [{ host, http: { paths: [backend()] } }],
      tls: [{ hosts: [host], secretName: SECRET }],
    },
  };
  await s.client.apply(Ingresses, ingress, { fieldManager: 'chousei-sandbox' });
  // What an ingress controller does once its load balancer serves the Ingress.
  await s.client.patchStatus(
    Ingresses,
    { namespace: NAMESPACE, name: INGRESS },
    { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: s.address }] } } } },
  );
}

/**
 * The Gateway API path: a shared Gateway with an HTTPS listener (its certificate asked for
 * with cert-manager's annotation) and an application's HTTPRoute, with the status a Gateway
 * controller would write.
 */
async function applyGateway(s: World, issuer: string, host: string): Promise<void> {
  const gateway: Gateway = {
    metadata: {
      name: GATEWAY.name,
      namespace: GATEWAY.namespace,
      annotations: { 'cert-manager.io/cluster-issuer': issuer },
    },
    spec: {
      gatewayClassName: 'sandbox',
      listeners: [
        { name: GATEWAY.sectionName, port: 80, protocol: 'HTTP', allowedRoutes: everyNamespace },
        {
          name: ROUTE,
          port: 443,
          protocol: 'HTTPS',
          hostname: host,
          tls: { mode: 'Terminate', certificateRefs: [{ name: GATEWAY_SECRET }] },
          allowedRoutes: everyNamespace,
        },
      ],
    },
  };
  const fieldManager = 'chousei-sandbox';
  await s.client.apply(Gateways, gateway, { fieldManager });
  await setGatewayAddresses(s.client, GATEWAY, [s.address]);
  await s.client.apply(
    HTTPRoutes,
    {
      metadata: { name: ROUTE, namespace: NAMESPACE },
      spec: {
        parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace }],
        hostnames: [host],
        rules: [{ backendRefs: [{ name: ROUTE, port: 80 }] }],
      },
    },
    { fieldManager },
  );
  await setRouteParents(s.client, HTTPRoutes, { namespace: NAMESPACE, name: ROUTE });
}

const everyNamespace = { namespaces: { from: 'All' as const } };

/** One path of the demo: the name it publishes, and the Certificate it gets for it. */
interface Path {
  host: string;
  kind: string;
  object: string;
  certificate: Required<ObjectKey>;
  how: string;
}

async function demo(s: World): Promise<void> {
  const host = `${INGRESS}.${s.zone}`;
  await s.ensureNamespace(NAMESPACE);
  const shown = watchEvents(s);

  const paths: Path[] = [
    {
      host,
      kind: 'Ingress',
      object: INGRESS,
      certificate: { namespace: NAMESPACE, name: SECRET },
      how: `Pebble validates HTTP-01 at ${host} through a temporary Ingress`,
    },
  ];
  await progress.step(
    `Ingress ${NAMESPACE}/${INGRESS}: host ${host}, TLS ${SECRET}, cert-manager.io/cluster-issuer ${s.issuer}`,
    () => applyIngress(s, host),
  );
  if (s.gatewayIssuer) {
    const issuer = s.gatewayIssuer;
    const routeHost = `${ROUTE}.${s.zone}`;
    await progress.step(
      `Gateway ${GATEWAY.namespace}/${GATEWAY.name}: HTTPS ${routeHost}, TLS ${GATEWAY_SECRET}, cert-manager.io/cluster-issuer ${issuer}; HTTPRoute ${NAMESPACE}/${ROUTE}`,
      () => applyGateway(s, issuer, routeHost),
    );
    paths.push({
      host: routeHost,
      kind: 'HTTPRoute',
      object: ROUTE,
      certificate: { namespace: GATEWAY.namespace, name: GATEWAY_SECRET },
      how: `Pebble validates HTTP-01 at ${routeHost} through a temporary HTTPRoute`,
    });
  }

  // The waits end by the deadline or an operator's crash, whichever comes first.
  const race = <T>(p: Promise<T>) => Promise.race([p, s.crashed, deadline]);
  // Each step ends once its Event is shown too: Events are written after the state they tell of.
  const record = (p: Path) =>
    progress.step(`dns-operator: A record ${p.host} -> ${s.address} in BIND9`, () =>
      race(
        (async () => {
          const a = await waitFor(async () => {
            const answer = await s.bind.dig(p.host, 'A');
            return answer.includes(s.address) && answer;
          }, FOREVER);
          await shown(p.kind, p.object, 'Published');
          return a;
        })(),
      ),
    );
  const certificate = ({ certificate: key, how }: Path) =>
    progress.step(`cert-operator: Certificate ${key.namespace}/${key.name} Ready (${how})`, () =>
      race(
        (async () => {
          await waitForCondition(s.client, Certificates, key, 'Ready', FOREVER);
          await shown('Certificate', key.name, 'Issued');
        })(),
      ),
    );
  const [answers] = await Promise.all([
    Promise.all(paths.map(record)),
    Promise.all(paths.map(certificate)),
  ]);
  const root = await s.pebble.rootCertificate();
  say();
  for (const p of paths) await showCertificate(s, p.certificate, root);
  say();
  say(`DNS answer from BIND9 (dig @${s.bind.host} -p ${s.bind.port})`);
  for (const [i, p] of paths.entries()) {
    for (const a of answers[i] ?? []) say(`  ${p.host}. A ${a}`);
    for (const t of await s.bind.dig(`a-${p.host}`, 'TXT')) say(`  a-${p.host}. TXT ${t}`);
  }
  say();
}

/** Prints a Certificate's Secret, once its chain verifies against Pebble's root. */
async function showCertificate(s: World, key: Required<ObjectKey>, root: string): Promise<void> {
  const secret = await s.client.get(Secrets, key);
  const bundle = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  const verified = verifyChain(bundle, root);
  if (!verified.valid)
    throw new Error(
      `the chain in Secret ${key.namespace}/${key.name} does not verify: ${verified.reason}`,
    );
  const cert = inspectCertificate(bundle);
  say(
    `Certificate ${key.namespace}/${key.name} (Secret ${key.namespace}/${key.name}, ${secret.type})`,
  );
  say(`  subject    ${cert.subject || '(empty)'}`);
  say(`  DNS names  ${cert.dnsNames.join(', ')}`);
  say(`  issuer     ${cert.issuer}`);
  say(`  not after  ${cert.notAfter.toISOString()}`);
  say(`  chain verified against Pebble root (${new X509Certificate(root).subject})`);
}

/** The kinds whose Events the demo shows, in its namespace and the Gateway's. */
const SHOWN_KINDS = ['Ingress', 'Gateway', 'HTTPRoute', 'Certificate'];

/**
 * Prints the Events of the demo's Ingresses, Gateways, HTTPRoutes and Certificates as they
 * arrive; the function returned resolves once one of that kind, name and reason was printed.
 */
function watchEvents(s: World): (kind: string, name: string, reason: string) => Promise<void> {
  const informer = new Informer(s.client.transport, Events, {});
  const seen = new Map<string, number>();
  const printed = new Set<string>();
  const namespaces = [NAMESPACE, GATEWAY.namespace];
  const show = (e: Event) => {
    const kind = e.regarding?.kind;
    if (!kind || !SHOWN_KINDS.includes(kind)) return;
    if (!namespaces.includes(e.metadata?.namespace ?? '')) return;
    // A repeat joins the Event's series: print it again only when the count moves.
    const count = e.series?.count ?? 1;
    const uid = e.metadata?.uid ?? '';
    if ((seen.get(uid) ?? 0) >= count) return;
    seen.set(uid, count);
    const who = (e.reportingController ?? '').replace(/^chousei-/, '');
    const times = count > 1 ? ` (x${count})` : '';
    say(
      `  event ${elapsed().padStart(7)}  ${kind}/${e.regarding?.name}  ${e.type} ${e.reason}${times}  ${who}: ${e.note ?? ''}`,
    );
    printed.add(`${kind}/${e.regarding?.name}/${e.reason}`);
  };
  informer.addHandler({ onAdd: show, onUpdate: (_, e) => show(e) });
  informer.start(stopping.signal).catch((err: unknown) => {
    if (!stopping.signal.aborted) say(`(event watch failed: ${(err as Error).message})`);
  });
  return async (kind, name, reason) => {
    await waitFor(() => printed.has(`${kind}/${name}/${reason}`), FOREVER);
  };
}

function backend() {
  return {
    path: '/',
    pathType: 'Prefix',
    backend: { service: { name: INGRESS, port: { number: 80 } } },
  };
}

function howToLookAround(s: World): void {
  const kubectl = controlPlaneBinary('kubectl');
  const dig = `dig @${s.bind.host} -p ${s.bind.port} +short`;
  const host = `${INGRESS}.${s.zone}`;
  const another = `other.${s.zone}`;
  say('Look around (everything stays up until Ctrl-C):');
  say(`  export KUBECONFIG=${s.adminKubeconfig}`);
  say(`  alias kubectl=${kubectl}`);
  const gateways = s.gatewayIssuer ? 'gateways,httproutes,' : '';
  say(`  kubectl get ingress,${gateways}certificates.cert.chousei.dev,clusterissuers -A`);
  say(`  kubectl -n ${NAMESPACE} describe certificate ${SECRET}`);
  say(`  kubectl -n ${NAMESPACE} get events`);
  say(
    `  kubectl -n ${NAMESPACE} get secret ${SECRET} -o jsonpath='{.data.tls\\.crt}' | base64 -d | openssl x509 -noout -subject -issuer -enddate`,
  );
  say(`  ${dig} ${host} A`);
  if (s.gatewayIssuer) say(`  ${dig} ${ROUTE}.${s.zone} A`);
  say('Another Ingress, DNS name and certificate:');
  say(
    `  kubectl -n ${NAMESPACE} create ingress other --rule='${another}/*=${INGRESS}:80,tls=other-tls' --annotation=cert-manager.io/cluster-issuer=${s.issuer}`,
  );
  say(
    `  kubectl -n ${NAMESPACE} patch ingress other --subresource=status --type=merge -p '{"status":{"loadBalancer":{"ingress":[{"ip":"${s.address}"}]}}}'`,
  );
  say(`  ${dig} ${another} A`);
  for (const [i, log] of s.logs.entries()) say(`${i ? ' '.repeat(14) : 'Operator logs:'} ${log}`);
}

try {
  if (flags.cluster) {
    say('chousei sandbox: both operators installed with helm on a one-node cluster');
    starting = startClusterStack({ steps: progress, signal: stopping.signal }).then(clusterWorld);
  } else {
    say('chousei sandbox: a control plane, BIND9, Pebble and both operators on this machine');
    starting = startStack({ steps: progress, signal: stopping.signal }).then(processWorld);
  }
  stack = await Promise.race([starting, deadline]);
  if (stopping.signal.aborted) await exit(130);
  await demo(stack);
  demoDone = true;
  say(`Demo done in ${elapsed()}.`);
  if (flags['exit-after-demo']) await exit(0);
  say();
  howToLookAround(stack);
  say('\nPress Ctrl-C to stop everything and remove the temporary files.');
  const world = stack;
  world.crashed.catch(async (err: unknown) => {
    process.stderr.write(`\nsandbox: ${(err as Error).message}\n${await world.tails()}\n`);
    void exit(1, { keepLogs: true });
  });
} catch (err) {
  // Stopping: the failure is the shutdown's doing, and exit() is under way (or due).
  if (stopping.signal.aborted) await new Promise(() => {});
  progress.close();
  process.stderr.write(`\nsandbox: failed after ${elapsed()}: ${(err as Error).message}\n`);
  if (stack) process.stderr.write(`\n${await stack.tails()}\n`);
  await exit(1, { keepLogs: true });
}
