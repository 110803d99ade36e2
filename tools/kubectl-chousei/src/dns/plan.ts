import { type Change, DomainPolicies, type RecordSet } from '@chousei/dns';
import {
  buildProvider,
  configFromFlags,
  type DnsOperatorConfig,
  DryRunProvider,
  isGatewayRouteSource,
  operatorOptions,
  runOnce,
  setupDnsOperator,
  sourcesFor,
} from '@chousei/dns-operator';
import {
  Gateways,
  isNotFound,
  type KubeObject,
  ListenerSets,
  Manager,
  Namespaces,
  type ResourceType,
  resourcePath,
} from '@chousei/runtime';
import {
  CliError,
  type Command,
  connect,
  explain,
  type Kube,
  parseCommand,
  printJson,
} from '../cli.js';
import { table } from '../output.js';
import { commandLogger, DNS_FLAGS, ENV_PREFIX } from './flags.js';

const USAGE = `Usage: kubectl chousei dns plan --provider NAME [operator flags...] [flags]

What the dns-operator would change, from the live cluster and provider: it runs the
operator once, read-only, with a dry-run provider (reads go to the real provider, changes
are collected, nothing is written to the zones or the cluster). Takes the operator's own
flags and CHOUSEI_DNS_* variables, so the plan is the one an operator with those settings
would carry out; what it would warn about (conflicts, names outside every zone, invalid
input) is listed too. Exit code 1 when a name could not be planned.`;

export interface PlannedChange {
  zone: string;
  action: Change['action'];
  name: string;
  type: string;
  ttl: number;
  values: string[];
  alias?: string;
  /** update: what the record holds now. */
  old?: { ttl: number; values: string[]; alias?: string };
}

export interface PlanWarning {
  /** `Ingress web/shop`. */
  object: string;
  reason: string;
  message: string;
}

export interface PlanReport {
  provider: string;
  ownerId: string;
  policy: string;
  zones: string[];
  changes: PlannedChange[];
  warnings: PlanWarning[];
  /** Names whose plan failed (the provider refused or could not be read). */
  failedNames: number;
}

export const dnsPlan: Command = {
  name: 'dns plan',
  summary: 'What the dns-operator would change (dry run against the live cluster and provider)',
  async run(argv, env) {
    const cmd = parseCommand(DNS_FLAGS, ENV_PREFIX, argv, env, USAGE, {
      min: 0,
      max: 0,
      names: 'none',
    });
    if (cmd.helped) return 0;
    const config = configFromFlags(cmd.flags, env);
    const timeoutMs = cmd.flags.duration('timeout');
    const kube = connect(cmd.flags);
    await checkSources(kube, config);
    const logger = commandLogger(cmd.flags, config.logLevel);

    const changes: PlannedChange[] = [];
    const warnings = new Map<string, PlanWarning>();
    const provider = new DryRunProvider(buildProvider(config, logger), logger, (zone, c) =>
      changes.push(planned(zone.name, c)),
    );
    const manager = new Manager({
      kubeConfig: kube.kubeConfig,
      logger,
      qps: config.kubeApi.qps,
      burst: config.kubeApi.burst,
      healthProbePort: false,
      metricsPort: false,
    });
    const operator = setupDnsOperator(manager, {
      ...operatorOptions(config, provider, logger),
      readOnly: true,
      events: {
        event: (obj: KubeObject, type: string, reason: string, _action: string, note: string) => {
          // Normal Events only restate the changes (Published, Deleted).
          if (type !== 'Warning') return;
          const w = { object: objectName(obj), reason, message: note };
          warnings.set(JSON.stringify(w), w);
        },
      },
    });
    const signal = AbortSignal.timeout(timeoutMs);
    let failedNames: number;
    try {
      failedNames = await runOnce(manager, operator, signal);
    } catch (err) {
      throw new CliError(`no plan: ${(err as Error).message}`);
    }
    if (signal.aborted) {
      throw new CliError(
        `no plan within ${cmd.flags.str('timeout')} (--timeout): the API server or the ${config.provider} provider did not answer in time`,
      );
    }
    const report: PlanReport = {
      provider: config.provider,
      ownerId: config.ownerId,
      policy: config.policy,
      zones: operator.zones.zoneNames(),
      changes,
      warnings: [...warnings.values()],
      failedNames,
    };
    if (cmd.json) printJson(report);
    else process.stdout.write(renderPlan(report));
    return failedNames ? 1 : 0;
  },
};

/**
 * Fails at once, naming the kind, when a source (or, for every namespace, DomainPolicies or
 * Namespaces) cannot be listed: the operator would wait for it forever (a missing CRD, no
 * RBAC to list Ingresses).
 */
async function checkSources(kube: Kube, config: DnsOperatorConfig): Promise<void> {
  const served = (rt: ResourceType, query: Record<string, string | number>, leaveOut: string) =>
    kube.client.transport
      .request('GET', resourcePath(rt, { namespace: config.namespace }), {
        query: { limit: 1, ...query },
      })
      .catch((err: unknown) => {
        if (isNotFound(err))
          throw new CliError(
            `${rt.plural} are not served by the API server (CRD not installed?): leave ${leaveOut} out of --source`,
          );
        return explain(err, `listing ${rt.plural}`);
      });
  const labels: Record<string, string> = config.labelFilter
    ? { labelSelector: config.labelFilter }
    : {};
  // Only the kinds matter here: no Gateway is looked at.
  for (const def of sourcesFor(config, { gateway: () => undefined }).defs)
    await served(def.resource, labels, def.kind);
  // Route sources read the Gateways (and ListenerSets) their routes attach to.
  if (config.sources.some(isGatewayRouteSource))
    for (const rt of config.gatewayListenerSets ? [Gateways, ListenerSets] : [Gateways])
      await served(rt, {}, 'the gateway-* sources');
  // Serving every namespace, the operator reads who may claim which names too.
  if (config.namespace) return;
  for (const rt of [DomainPolicies, Namespaces]) {
    await kube.client.transport
      .request('GET', resourcePath(rt), { query: { limit: 1 } })
      .catch((err: unknown) => explain(err, `listing ${rt.plural}`));
  }
}

function planned(zone: string, c: Change): PlannedChange {
  const r = c.record;
  return {
    zone,
    action: c.action,
    name: r.name,
    type: r.type,
    ttl: r.ttl,
    values: r.values,
    ...(r.alias ? { alias: aliasText(r) } : {}),
    ...(c.action === 'update'
      ? {
          old: {
            ttl: c.old.ttl,
            values: c.old.values,
            ...(c.old.alias ? { alias: aliasText(c.old) } : {}),
          },
        }
      : {}),
  };
}

const aliasText = (r: RecordSet) => (r.alias ? `alias ${r.alias.dnsName}` : '');

function objectName(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  return `${obj.kind ?? 'object'} ${ns ? `${ns}/` : ''}${obj.metadata?.name ?? ''}`;
}

const SIGN = { create: '+', update: '~', delete: '-' } as const;

export function renderPlan(r: PlanReport): string {
  const out: string[] = [
    `Plan of the dns-operator (provider ${r.provider}, owner id ${r.ownerId}, policy ${r.policy}); zones: ${r.zones.join(', ') || 'none'}`,
  ];
  const values = (v: { values: string[]; alias?: string }) => v.alias ?? v.values.join(', ');
  for (const zone of [...new Set(r.changes.map((c) => c.zone))]) {
    out.push(`zone ${zone}:`);
    out.push(
      table(
        r.changes
          .filter((c) => c.zone === zone)
          .map((c) => [
            SIGN[c.action],
            c.action,
            c.name,
            c.type,
            String(c.ttl),
            c.old && (values(c.old) !== values(c) || c.old.ttl !== c.ttl)
              ? `${values(c.old)}${c.old.ttl !== c.ttl ? ` (ttl ${c.old.ttl})` : ''} -> ${values(c)}`
              : values(c),
          ]),
        '  ',
      ),
    );
  }
  if (r.warnings.length) {
    out.push('Warnings:');
    for (const w of r.warnings) out.push(`  ${w.object}: ${w.reason}: ${w.message}`);
  }
  const count = (a: PlannedChange['action']) => r.changes.filter((c) => c.action === a).length;
  out.push(
    r.changes.length
      ? `${r.changes.length} change${r.changes.length === 1 ? '' : 's'}: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete (ownership TXT records included)`
      : 'No changes: the zones already match the cluster.',
  );
  if (r.failedNames) out.push(`${r.failedNames} name(s) could not be planned: see the warnings.`);
  return `${out.join('\n')}\n`;
}
