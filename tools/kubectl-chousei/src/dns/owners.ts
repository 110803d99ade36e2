import { DomainPolicies, judgeName, type NameVerdict, normalizeName } from '@chousei/dns';
import {
  admitClaims,
  buildProvider,
  byAge,
  type Claimant,
  configFromFlags,
  type DnsSourceConfig,
  type Endpoint,
  type FieldError,
  type GatewayLookup,
  isGatewayRouteSource,
  mergeClaims,
  resourceNamespace,
  sourcesFor,
  type TenancyRules,
  txtRegistryFor,
  zoneFilterFor,
  zoneOf,
} from '@chousei/dns-operator';
import {
  type Gateway,
  Gateways,
  isNotFound,
  type KubeObject,
  type ListenerSet,
  ListenerSets,
  type Logger,
  Namespaces,
  type ResourceType,
} from '@chousei/runtime';
import { type Command, connect, explain, type Kube, parseCommand, printJson } from '../cli.js';
import { table } from '../output.js';
import { commandLogger, DNS_FLAGS, ENV_PREFIX } from './flags.js';

const USAGE = `Usage: kubectl chousei dns owners NAME [operator flags...] [flags]

Which Ingresses, Services, DNSEndpoints and Gateway API routes claim a DNS name, as the
dns-operator sees them (its --source, --namespace, --label-filter, --annotation-filter,
--ingress-class, --gateway-listener-sets and domain filters apply; a route's names as its
Gateways and ListenerSets give them), and which of them the operator publishes (DomainPolicies and
the namespace holding the name included; without --provider, the holder is the oldest
claim's namespace). With --provider and
its flags (or CHOUSEI_DNS_* variables), also the records the provider holds for the name
and the owner id and resource their ownership TXT records name.`;

export interface ClaimReport {
  /** `ingress/ns/name`, as ownership records write it. */
  resource: string;
  createdAt?: string;
  deleting: boolean;
  endpoints: Endpoint[];
  /** Input the operator cannot publish (the field and why). */
  errors: FieldError[];
  /** publishes | merged | loses | refused (another namespace holds the name, or a DomainPolicy) | no-targets | deleting */
  outcome: 'publishes' | 'merged' | 'loses' | 'refused' | 'no-targets' | 'deleting';
  detail: string;
}

export interface ProviderRecord {
  type: string;
  ttl: number;
  values: string[];
  /** Owner id the ownership TXT names; absent: no ownership record (not the operator's). */
  owner?: string;
  resource?: string;
  txt?: string;
  ours: boolean;
}

export interface OwnersReport {
  name: string;
  claims: ClaimReport[];
  /** Source kinds that could not be listed (e.g. the DNSEndpoint CRD is not installed). */
  unavailableSources: string[];
  provider?: {
    name: string;
    ownerId: string;
    zone?: string;
    records: ProviderRecord[];
  };
}

export const dnsOwners: Command = {
  name: 'dns owners',
  summary: 'Which objects claim a DNS name, and who owns its records at the provider',
  async run(argv, env) {
    const cmd = parseCommand(DNS_FLAGS, ENV_PREFIX, argv, env, USAGE, {
      min: 1,
      max: 1,
      names: 'NAME',
    });
    if (cmd.helped) return 0;
    const config = configFromFlags(cmd.flags, env, { requireProvider: false });
    const kube = connect(cmd.flags);
    const logger = commandLogger(cmd.flags, config.logLevel);
    const report = await owners(kube, normalizeName(cmd.operands[0]!), config, logger);
    if (cmd.json) printJson(report);
    else process.stdout.write(renderOwners(report));
    return 0;
  },
};

export async function owners(
  kube: Kube,
  name: string,
  config: DnsSourceConfig,
  logger: Logger,
): Promise<OwnersReport> {
  const { found, unavailableSources } = await claimantsOf(kube, name, config);
  const provider = config.provider
    ? await providerRecords(name, { ...config, provider: config.provider }, logger)
    : undefined;
  // As the operator: DomainPolicies only when serving every namespace; the holder from
  // the namespaces our ownership records name (known only with the provider).
  const rules: TenancyRules = {
    ...(config.namespace ? {} : { judge: await policyJudge(kube) }),
    crossNamespaceClaims: config.crossNamespaceClaims,
  };
  const publishedBy = new Set(
    (provider?.records ?? [])
      .filter((r) => r.ours && r.resource)
      .map((r) => resourceNamespace(r.resource!))
      .filter((ns): ns is string => ns !== undefined),
  );
  return {
    name,
    claims: claimReports(name, found, rules, publishedBy),
    unavailableSources,
    ...(provider ? { provider } : {}),
  };
}

/** Objects of a kind, as the operator's scope lists them; undefined when it is not served. */
function listOf<T extends KubeObject>(
  kube: Kube,
  rt: ResourceType<T>,
  opts: { namespace?: string; labelSelector?: string },
): Promise<T[] | undefined> {
  return kube.client.list(rt, opts).catch((err: unknown): T[] | undefined => {
    if (isNotFound(err)) return undefined;
    return explain(err, `listing ${rt.plural}`);
  });
}

/**
 * What the route sources resolve parents against, listed as the operator caches them: the
 * Gateways (and ListenerSets) of its scope, and namespace labels when serving every one.
 */
async function listedGateways(
  kube: Kube,
  config: DnsSourceConfig,
  unavailable: string[],
): Promise<GatewayLookup | undefined> {
  if (!config.sources.some(isGatewayRouteSource)) return undefined;
  const scope = config.namespace ? { namespace: config.namespace } : {};
  const byKey = <T extends KubeObject>(list: T[] | undefined) =>
    new Map((list ?? []).map((o) => [`${o.metadata?.namespace}/${o.metadata?.name}`, o]));
  const gatewayList = await listOf<Gateway>(kube, Gateways, scope);
  if (!gatewayList) unavailable.push('Gateway (not served: Gateway API CRDs not installed?)');
  const gateways = byKey(gatewayList);
  const sets = config.gatewayListenerSets
    ? byKey(await listOf<ListenerSet>(kube, ListenerSets, scope))
    : undefined;
  const labels = config.namespace
    ? undefined
    : new Map(
        ((await listOf(kube, Namespaces, {})) ?? []).map((n) => [
          n.metadata?.name ?? '',
          n.metadata?.labels ?? {},
        ]),
      );
  return {
    gateway: (namespace, name) => gateways.get(`${namespace}/${name}`),
    ...(sets ? { listenerSet: (namespace, name) => sets.get(`${namespace}/${name}`) } : {}),
    ...(labels ? { namespaceLabels: (namespace) => labels.get(namespace) } : {}),
  };
}

/** The objects claiming `name` (oldest first) and the source kinds that cannot be listed. */
async function claimantsOf(kube: Kube, name: string, config: DnsSourceConfig) {
  const unavailableSources: string[] = [];
  const sources = sourcesFor(config, await listedGateways(kube, config, unavailableSources));
  const found: Claimant[] = [];
  for (const def of sources.defs) {
    const objects = await listOf(kube, def.resource, {
      ...(config.namespace ? { namespace: config.namespace } : {}),
      ...(config.labelFilter ? { labelSelector: config.labelFilter } : {}),
    });
    if (!objects) {
      unavailableSources.push(`${def.label} (not served: CRD not installed?)`);
      continue;
    }
    for (const obj of objects) {
      if (sources.claims(def, obj).includes(name)) found.push(sources.claimant(def, obj));
    }
  }
  return { found: found.sort(byAge), unavailableSources };
}

/** The DomainPolicies' verdicts, as the operator reads them (none served: every name allowed). */
async function policyJudge(kube: Kube): Promise<(namespace: string, name: string) => NameVerdict> {
  const policies = await kube.client
    .list(DomainPolicies)
    .catch((err: unknown) =>
      isNotFound(err) ? [] : explain(err, `listing ${DomainPolicies.plural}`),
    );
  const labels = new Map<string, Record<string, string> | undefined>();
  if (policies.some((p) => p.spec.namespaceSelector)) {
    const namespaces = await kube.client
      .list(Namespaces)
      .catch((err: unknown) => explain(err, 'listing namespaces'));
    for (const ns of namespaces) labels.set(ns.metadata?.name ?? '', ns.metadata?.labels);
  }
  return (namespace, name) =>
    judgeName(policies, { name: namespace, labels: labels.get(namespace) }, name);
}

function claimReports(
  name: string,
  found: Claimant[],
  rules: TenancyRules,
  publishedBy: ReadonlySet<string>,
): ClaimReport[] {
  // The operator leaves objects being deleted out of the merge: their records go.
  const active = found.filter((c) => !c.obj.metadata?.deletionTimestamp);
  const { admitted, refused } = admitClaims(name, active, rules, publishedBy);
  const merged = mergeClaims(name, admitted);
  return found.map((c): ClaimReport => {
    const endpoints = c.result.endpoints.filter((e) => e.name === name);
    const base = {
      resource: c.resource,
      ...(c.obj.metadata?.creationTimestamp ? { createdAt: c.obj.metadata.creationTimestamp } : {}),
      deleting: !!c.obj.metadata?.deletionTimestamp,
      endpoints,
      errors: c.result.errors,
    };
    if (base.deleting)
      return { ...base, outcome: 'deleting', detail: 'being deleted: its records go' };
    const no = refused.find((r) => r.claimant === c);
    if (no) return { ...base, outcome: 'refused', detail: `${no.reason}: ${no.message}` };
    const lost = merged.losers.find((l) => l.claimant === c);
    if (lost) return { ...base, outcome: 'loses', detail: lost.reason };
    const won = merged.endpoints.filter((e) => e.claimant === c);
    if (won.length) {
      return {
        ...base,
        outcome: 'publishes',
        detail: won.map((w) => `${w.endpoint.type} ${w.endpoint.targets.join(', ')}`).join('; '),
      };
    }
    if (endpoints.length) {
      const into = merged.endpoints.find((e) => endpoints.some((x) => x.type === e.endpoint.type));
      return {
        ...base,
        outcome: 'merged',
        detail: into
          ? `its targets join the ${into.endpoint.type} record of ${into.claimant.resource}`
          : 'merged',
      };
    }
    return {
      ...base,
      outcome: 'no-targets',
      detail: 'no targets yet (records it published stay until it stops claiming the name)',
    };
  });
}

/** The provider's records at `name` and what their ownership TXT records say. */
async function providerRecords(
  name: string,
  config: DnsSourceConfig & { provider: NonNullable<DnsSourceConfig['provider']> },
  logger: Logger,
): Promise<NonNullable<OwnersReport['provider']>> {
  const provider = buildProvider(config, logger);
  const registry = txtRegistryFor(config);
  const zones = (await provider.zones()).filter(zoneFilterFor(config.domainFilter));
  const zone = zoneOf(name, zones);
  const records: ProviderRecord[] = [];
  if (zone) {
    const view = registry.read(zone.name, await provider.records(zone));
    for (const owned of view.records.values()) {
      if (owned.record.name !== name) continue;
      const o = owned.ownership;
      records.push({
        type: owned.record.type,
        ttl: owned.record.ttl,
        values: owned.record.alias ? [`alias ${owned.record.alias.dnsName}`] : owned.record.values,
        ...(o ? { owner: o.owner, txt: o.txt.name } : {}),
        ...(o?.resource ? { resource: o.resource } : {}),
        ours: registry.owns(owned),
      });
    }
  }
  return {
    name: config.provider,
    ownerId: registry.ownerId,
    ...(zone ? { zone: zone.name } : {}),
    records,
  };
}

export function renderOwners(r: OwnersReport): string {
  const out: string[] = [`DNS name ${r.name}`];
  if (r.claims.length) {
    out.push('Claimed by (oldest first):');
    out.push(
      table(
        r.claims.map((c) => [
          c.resource,
          c.endpoints.map((e) => `${e.type} ${e.targets.join(',')}`).join('; ') || '-',
          `${c.outcome}: ${c.detail}`,
        ]),
        '  ',
      ),
    );
    for (const c of r.claims)
      for (const e of c.errors) out.push(`  ${c.resource}: invalid ${e.field}: ${e.message}`);
  } else out.push('Claimed by: no object (with the operator filters given)');
  for (const s of r.unavailableSources) out.push(`  not listed: ${s}`);
  const p = r.provider;
  if (!p) {
    out.push('Provider: not read (give --provider and its flags, as the operator has them)');
  } else if (!p.zone) {
    out.push(`Provider ${p.name}: ${r.name} is outside every managed zone`);
  } else {
    out.push(`Provider ${p.name}, zone ${p.zone} (our owner id: ${p.ownerId}):`);
    out.push(
      p.records.length
        ? table(
            p.records.map((rec) => [
              rec.type,
              String(rec.ttl),
              rec.values.join(', '),
              rec.owner === undefined
                ? 'no ownership record: not managed by any owner'
                : `owner ${rec.owner}${rec.ours ? ' (ours)' : ' (NOT ours)'}${rec.resource ? `, resource ${rec.resource}` : ''}, TXT ${rec.txt}`,
            ]),
            '  ',
          )
        : '  no records at this name',
    );
  }
  return `${out.join('\n')}\n`;
}
