import {
  backoffFromFlags,
  FLAGS as CERT_FLAGS,
  Certificates,
  ClusterIssuers,
  clusterResourceNamespaceFromFlags,
  ENV_PREFIX,
  Issuers,
  inspectCertificate,
  issuanceNeed,
  LABEL_HTTP01,
  manualIssuanceRequest,
  retryTime,
  secretValue,
} from '@chousei/cert-operator';
import {
  ApiError,
  type Condition,
  ForbiddenError,
  getControllerOf,
  HTTPRoutes,
  Ingresses,
  isNotFound,
  type KubeObject,
  type ResourceType,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import {
  type Command,
  connect,
  explain,
  KUBE_FLAGS,
  type Kube,
  parseCommand,
  printJson,
} from '../cli.js';
import { type EventSummary, recentEvents } from '../events.js';
import { fields, relative, rfc3339, shortDuration, table, when } from '../output.js';
import { fetchOrder, type OrderDetails } from './acme.js';

type OrderIssuer = Parameters<typeof fetchOrder>[1];

import { type Verdict, verdict } from './verdict.js';

const FLAGS = {
  ...KUBE_FLAGS,
  // The operator's own flags (and CHOUSEI_CERT_* variables): pass what it runs with.
  'backoff-initial': CERT_FLAGS['backoff-initial'],
  'backoff-max': CERT_FLAGS['backoff-max'],
  'cluster-resource-namespace': CERT_FLAGS['cluster-resource-namespace'],
  'skip-acme': {
    type: 'boolean',
    default: false,
    help: 'Do not ask the ACME server about the order in progress',
  },
} as const;

const USAGE = `Usage: kubectl chousei certs status NAME [-n NAMESPACE] [flags]

Where a Certificate stands and, when it is not Ready, why: what asked for it (an Ingress,
Gateway or ListenerSet, through the operator's shims), its conditions, validity and renewal
time, failed attempts and when the next one is due, the ACME order in progress (with its
authorizations, read from the ACME server with the issuer's account key, and the temporary
Ingresses or HTTPRoutes routing its HTTP-01 challenges), the Secret it writes and whether
that matches, its recent Events, and a one-line verdict.`;

const ACME_TIMEOUT_MS = 10_000;

export interface StatusReport {
  certificate: {
    namespace: string;
    name: string;
    secretName: string;
    issuerRef: { kind: string; name: string };
    commonName?: string;
    dnsNames: string[];
    ipAddresses: string[];
    deleting: boolean;
  };
  /** What asked for it: its controller owner, when a shim's Ingress, Gateway or ListenerSet. */
  requestedBy?: { kind: string; name: string };
  conditions: Condition[];
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  revision?: number;
  failures?: {
    attempts: number;
    lastFailureTime?: string;
    /** When the backoff lets the operator try again (absent: nothing holds it). */
    nextAttemptTime?: string;
    backoff: { initial: string; max: string };
  };
  issuer: { kind: string; name: string; namespace?: string; found: boolean; ready?: Condition };
  secret: {
    name: string;
    exists: boolean;
    readable: boolean;
    upToDate: boolean;
    /** Why it needs issuing (cert-manager's reasons: DoesNotExist, SecretMismatch, ...). */
    reason?: string;
    message?: string;
    serialNumber?: string;
    notAfter?: string;
  };
  acmeOrder?: {
    url: string;
    details?: OrderDetails;
    unavailable?: string;
    /** Temporary routes now sending its names' HTTP-01 challenges to the operator. */
    challengeRoutes?: ChallengeRoute[];
  };
  events: EventSummary[];
  /** Why no Events could be listed (e.g. forbidden). */
  eventsUnavailable?: string;
  verdict: Verdict;
}

/** A temporary HTTP-01 route: an Ingress, or an HTTPRoute with the parents it attaches to. */
export interface ChallengeRoute {
  kind: 'Ingress' | 'HTTPRoute';
  namespace: string;
  name: string;
  host: string;
  parents?: string[];
}

const SHIM_KINDS = ['Ingress', 'Gateway', 'ListenerSet'];

/**
 * The operator's temporary HTTP-01 routes in `namespace` for `names`: Ingresses and, where
 * Gateway API is served, HTTPRoutes. A kind not served or not readable is left out.
 */
async function challengeRoutes(
  kube: Kube,
  namespace: string,
  names: string[],
): Promise<ChallengeRoute[]> {
  const list = <T extends KubeObject>(rt: ResourceType<T>) =>
    kube.client
      .list(rt, { namespace, labelSelector: `${LABEL_HTTP01}=true` })
      .catch((err: unknown): T[] => {
        if (isNotFound(err) || err instanceof ForbiddenError) return [];
        return explain(err, `listing ${rt.plural} in ${namespace}`);
      });
  // A wildcard is validated as its base name.
  const wanted = new Set(names.map((n) => n.replace(/^\*\./, '')));
  const routes: ChallengeRoute[] = [];
  for (const ing of await list(Ingresses)) {
    const host = ing.spec?.rules?.[0]?.host ?? '';
    if (wanted.has(host))
      routes.push({ kind: 'Ingress', namespace, name: ing.metadata?.name ?? '', host });
  }
  for (const route of await list(HTTPRoutes)) {
    const host = route.spec?.hostnames?.[0] ?? '';
    if (!wanted.has(host)) continue;
    const parents = (route.spec?.parentRefs ?? []).map(
      (p) => `${p.kind ?? 'Gateway'} ${p.namespace ?? namespace}/${p.name}`,
    );
    routes.push({ kind: 'HTTPRoute', namespace, name: route.metadata?.name ?? '', host, parents });
  }
  return routes;
}

export const certsStatus: Command = {
  name: 'certs status',
  summary: 'Where a Certificate stands and why it is stuck',
  async run(argv, env) {
    const cmd = parseCommand(FLAGS, ENV_PREFIX, argv, env, USAGE, {
      min: 1,
      max: 1,
      names: 'NAME',
    });
    if (cmd.helped) return 0;
    const backoff = backoffFromFlags(cmd.flags);
    const kube = connect(cmd.flags);
    const report = await certificateStatus(kube, cmd.operands[0]!, {
      backoff,
      clusterResourceNamespace: clusterResourceNamespaceFromFlags(cmd.flags, env),
      acme: !cmd.flags.bool('skip-acme'),
      now: new Date(),
    });
    if (cmd.json) printJson(report);
    else process.stdout.write(renderStatus(report, new Date()));
    return 0;
  },
};

export async function certificateStatus(
  kube: Kube,
  name: string,
  opts: {
    backoff: { initialMs: number; maxMs: number };
    clusterResourceNamespace: string;
    acme: boolean;
    now: Date;
  },
): Promise<StatusReport> {
  const { now } = opts;
  const namespace = kube.namespace;
  const cert = await kube.client
    .get(Certificates, { namespace, name })
    .catch((err: unknown) => explain(err, `certificate ${namespace}/${name}`));
  const spec = cert.spec;
  const { kind, issuerNs, issuerLabel, issuer } = await readIssuer(kube, namespace, spec.issuerRef);

  const secret = await readSecret(kube, namespace, spec.secretName);
  const need = secret === 'forbidden' ? undefined : issuanceNeed(cert, secret, now);
  const leaf = leafOf(secret === 'forbidden' ? undefined : secret);
  const st = cert.status ?? {};
  const retryAt = retryTime(cert, opts.backoff);
  const manual = manualIssuanceRequest(cert) !== undefined;

  const acmeOrder = await acmeOrderOf(
    kube,
    { url: st.acmeOrder?.url, dnsNames: spec.dnsNames ?? [] },
    { kind, resource: issuer, label: issuerLabel },
    opts,
  );
  let eventsUnavailable: string | undefined;
  const events = await recentEvents(kube, 'Certificate', cert).catch((err: unknown) => {
    // Events help but are not the answer: say why they are missing and go on.
    eventsUnavailable = err instanceof ApiError ? (err.status.message ?? err.message) : String(err);
    return [];
  });
  const conditions = st.conditions ?? [];
  const owner = getControllerOf(cert);
  const issuerReady = issuer?.status?.conditions?.find((c) => c.type === 'Ready');

  return {
    certificate: {
      namespace,
      name,
      secretName: spec.secretName,
      issuerRef: { kind, name: spec.issuerRef.name },
      ...(spec.commonName ? { commonName: spec.commonName } : {}),
      dnsNames: spec.dnsNames ?? [],
      ipAddresses: spec.ipAddresses ?? [],
      deleting: !!cert.metadata?.deletionTimestamp,
    },
    ...(owner && SHIM_KINDS.includes(owner.kind)
      ? { requestedBy: { kind: owner.kind, name: owner.name } }
      : {}),
    conditions,
    ...pick(st, ['notBefore', 'notAfter', 'renewalTime', 'revision']),
    ...(st.failedIssuanceAttempts
      ? {
          failures: failuresOf(
            st.failedIssuanceAttempts,
            st.lastFailureTime,
            retryAt,
            opts.backoff,
          ),
        }
      : {}),
    issuer: {
      kind,
      name: spec.issuerRef.name,
      ...(issuerNs ? { namespace: issuerNs } : {}),
      found: !!issuer,
      ...(issuerReady ? { ready: issuerReady } : {}),
    },
    secret: secretReport(spec.secretName, secret, need, leaf),
    ...(acmeOrder ? { acmeOrder } : {}),
    events,
    ...(eventsUnavailable ? { eventsUnavailable } : {}),
    verdict: verdict({
      now,
      deleting: !!cert.metadata?.deletionTimestamp,
      conditions,
      issuerName: issuerLabel,
      issuerFound: !!issuer,
      ...(issuerReady ? { issuerReady } : {}),
      ...(need ? { secretNeed: `the Secret needs issuing (${need.reason}: ${need.message})` } : {}),
      secretUnknown: secret === 'forbidden',
      ...(st.renewalTime ? { renewalTime: new Date(st.renewalTime) } : {}),
      failedAttempts: st.failedIssuanceAttempts ?? 0,
      ...(retryAt ? { retryAt } : {}),
      manualRequest: manual,
      ...(acmeOrder ? { acmeOrderUrl: acmeOrder.url } : {}),
      ...(acmeOrder?.details ? { order: acmeOrder.details } : {}),
      ...(acmeOrder?.unavailable ? { orderUnavailable: acmeOrder.unavailable } : {}),
    }),
  };
}

/** The Certificate's ACME order as far as it can be read: its URL, the server's view, routes. */
async function acmeOrderOf(
  kube: Kube,
  { url, dnsNames }: { url: string | undefined; dnsNames: string[] },
  issuer: {
    kind: OrderIssuer['kind'];
    resource: OrderIssuer['resource'] | undefined;
    label: string;
  },
  opts: { clusterResourceNamespace: string; acme: boolean },
): Promise<StatusReport['acmeOrder']> {
  if (!url) return undefined;
  const routes = await challengeRoutes(kube, opts.clusterResourceNamespace, dnsNames);
  const acmeOrder: NonNullable<StatusReport['acmeOrder']> = {
    url,
    ...(routes.length ? { challengeRoutes: routes } : {}),
  };
  if (!opts.acme) acmeOrder.unavailable = 'not asked (--skip-acme)';
  else if (!issuer.resource) acmeOrder.unavailable = `${issuer.label} not found`;
  else {
    try {
      acmeOrder.details = await fetchOrder(
        kube,
        { kind: issuer.kind, resource: issuer.resource },
        url,
        opts.clusterResourceNamespace,
        ACME_TIMEOUT_MS,
      );
    } catch (err) {
      acmeOrder.unavailable = (err as Error).message;
    }
  }
  return acmeOrder;
}

function failuresOf(
  attempts: number,
  lastFailureTime: string | undefined,
  retryAt: Date | undefined,
  backoff: { initialMs: number; maxMs: number },
): NonNullable<StatusReport['failures']> {
  return {
    attempts,
    ...(lastFailureTime ? { lastFailureTime } : {}),
    ...(retryAt ? { nextAttemptTime: rfc3339(retryAt) } : {}),
    backoff: { initial: shortDuration(backoff.initialMs), max: shortDuration(backoff.maxMs) },
  };
}

/** The Certificate's issuer, undefined when it does not exist. */
async function readIssuer(
  kube: Kube,
  namespace: string,
  ref: { kind?: OrderIssuer['kind']; name: string },
) {
  const kind = ref.kind ?? 'Issuer';
  const issuerNs = kind === 'ClusterIssuer' ? undefined : namespace;
  const issuerLabel = `${kind} ${issuerNs ? `${issuerNs}/` : ''}${ref.name}`;
  const issuer = await (kind === 'ClusterIssuer'
    ? kube.client.get(ClusterIssuers, { name: ref.name })
    : kube.client.get(Issuers, { namespace, name: ref.name })
  ).catch((err: unknown): undefined => {
    if (isNotFound(err)) return undefined;
    return explain(err, issuerLabel);
  });
  return { kind, issuerNs, issuerLabel, issuer };
}

function secretReport(
  name: string,
  secret: Secret | undefined | 'forbidden',
  need: { reason: string; message: string } | undefined,
  leaf: ReturnType<typeof leafOf>,
): StatusReport['secret'] {
  return {
    name,
    exists: secret !== undefined,
    readable: secret !== 'forbidden',
    upToDate: secret !== 'forbidden' && !need,
    ...(need ? { reason: need.reason, message: need.message } : {}),
    ...(leaf ? { serialNumber: leaf.serialNumber, notAfter: rfc3339(leaf.notAfter) } : {}),
  };
}

/** The Secret, undefined when missing, 'forbidden' when the user may not read it. */
async function readSecret(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<Secret | undefined | 'forbidden'> {
  return kube.client.get(Secrets, { namespace, name }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    if (err instanceof ForbiddenError) return 'forbidden' as const;
    return explain(err, `secret ${namespace}/${name}`);
  });
}

function leafOf(secret: Secret | undefined): ReturnType<typeof inspectCertificate> | undefined {
  const pem = secretValue(secret, 'tls.crt');
  if (!pem) return undefined;
  try {
    return inspectCertificate(pem);
  } catch {
    return undefined;
  }
}

export function renderStatus(r: StatusReport, now: Date): string {
  const at = (s: string | undefined) => (s ? when(new Date(s), now) : '-');
  const out = [
    ...certificateSection(r),
    ...conditionsSection(r, now),
    ...validitySection(r, now, at),
    ...failuresSection(r, now, at),
    ...acmeOrderSection(r, at),
    ...secretSection(r, at),
    ...eventsSection(r, now),
    `Verdict: ${r.verdict.state}: ${r.verdict.message}`,
  ];
  return `${out.join('\n')}\n`;
}

/** A time as `when` renders it, or '-' when there is none. */
type At = (s: string | undefined) => string;

function certificateSection(r: StatusReport): string[] {
  const c = r.certificate;
  const names = [...c.dnsNames, ...c.ipAddresses];
  const issuerState = !r.issuer.found
    ? 'not found'
    : r.issuer.ready
      ? r.issuer.ready.status === 'True'
        ? 'Ready'
        : `not Ready: ${r.issuer.ready.reason}: ${r.issuer.ready.message}`
      : 'no Ready condition yet';
  return [
    `Certificate ${c.namespace}/${c.name}${c.deleting ? ' (being deleted)' : ''}`,
    fields(
      [
        [
          'Issuer',
          `${r.issuer.kind} ${r.issuer.namespace ? `${r.issuer.namespace}/` : ''}${r.issuer.name} (${issuerState})`,
        ],
        ...(r.requestedBy
          ? [
              [
                'Requested by',
                `${r.requestedBy.kind} ${c.namespace}/${r.requestedBy.name} (its shim annotations)`,
              ] as [string, string],
            ]
          : []),
        ...(c.commonName ? [['Common name', c.commonName] as [string, string]] : []),
        ['Names', names.join(', ') || '-'],
        ['Secret', c.secretName],
      ],
      '  ',
    ),
  ];
}

function conditionsSection(r: StatusReport, now: Date): string[] {
  return [
    'Conditions:',
    r.conditions.length
      ? table(
          r.conditions.map((cond) => [
            cond.type,
            cond.status,
            cond.reason,
            cond.lastTransitionTime ? relative(new Date(cond.lastTransitionTime), now) : '',
            cond.message,
          ]),
          '  ',
        )
      : '  none yet (the operator has not reconciled it)',
  ];
}

function validitySection(r: StatusReport, now: Date, at: At): string[] {
  return [
    'Validity:',
    fields(
      [
        ['Not before', at(r.notBefore)],
        ['Not after', at(r.notAfter)],
        [
          'Renewal',
          r.renewalTime
            ? `${at(r.renewalTime).replace(/ \(.*\)$/, '')} (renews ${relative(new Date(r.renewalTime), now)})`
            : '-',
        ],
        ['Revision', r.revision === undefined ? '-' : String(r.revision)],
      ],
      '  ',
    ),
  ];
}

function failuresSection(r: StatusReport, now: Date, at: At): string[] {
  const f = r.failures;
  if (!f) return ['Failures: none'];
  return [
    'Failures:',
    fields(
      [
        ['Failed attempts', String(f.attempts)],
        ['Last failure', at(f.lastFailureTime)],
        [
          'Next attempt',
          !f.nextAttemptTime
            ? 'not held back (the spec changed since the failures)'
            : `${at(f.nextAttemptTime)}${new Date(f.nextAttemptTime) <= now ? ': the backoff is over' : ''}; backoff ${f.backoff.initial} doubling to ${f.backoff.max} (a server's Retry-After may make it later)`,
        ],
      ],
      '  ',
    ),
  ];
}

function acmeOrderSection(r: StatusReport, at: At): string[] {
  const o = r.acmeOrder;
  if (!o) return ['ACME order: none in progress'];
  const out = [`ACME order: ${o.url}`];
  if (o.details) {
    const d = o.details;
    out.push(
      `  Status: ${d.status}${d.expires ? `, expires ${at(d.expires)}` : ''}${d.error ? `, error: ${d.error}` : ''}`,
      '  Authorizations:',
      table(
        d.authorizations.flatMap((a) =>
          a.challenges.map((ch, i) => [
            i === 0 ? a.identifier : '',
            i === 0 ? a.status : '',
            ch.type,
            ch.status,
            ch.error ?? '',
          ]),
        ),
        '    ',
      ),
    );
  } else out.push(`  Details unavailable: ${o.unavailable}`);
  if (o.challengeRoutes) {
    out.push(
      '  HTTP-01 routed through:',
      table(
        o.challengeRoutes.map((rt) => [
          `${rt.kind} ${rt.namespace}/${rt.name}`,
          rt.host,
          rt.parents ? `parents: ${rt.parents.join(', ')}` : '',
        ]),
        '    ',
      ),
    );
  }
  return out;
}

function secretSection(r: StatusReport, at: At): string[] {
  const s = r.secret;
  const secretState = !s.readable
    ? 'cannot be read (forbidden): not checked'
    : !s.exists
      ? 'missing'
      : s.upToDate
        ? 'up to date'
        : `needs issuing: ${s.reason}: ${s.message}`;
  const out = [`Secret ${s.name}: ${secretState}`];
  if (s.serialNumber) out.push(`  serial ${s.serialNumber}, valid until ${at(s.notAfter)}`);
  return out;
}

function eventsSection(r: StatusReport, now: Date): string[] {
  const head = r.eventsUnavailable
    ? `Events: cannot be listed: ${r.eventsUnavailable}`
    : r.events.length
      ? 'Events:'
      : 'Events: none';
  if (!r.events.length) return [head];
  return [
    head,
    table(
      r.events.map((e) => [
        e.time ? relative(new Date(e.time), now) : '',
        e.type,
        e.reason,
        e.count > 1 ? `(x${e.count}) ${e.note}` : e.note,
      ]),
      '  ',
    ),
  ];
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
