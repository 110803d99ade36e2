import {
  PowerDNSProvider,
  type Provider,
  RFC2136Provider,
  Route53Provider,
  type TsigKey,
  tsigSecretProblem,
  WebhookProvider,
  weakTsigAlgorithm,
} from '@chousei/dns';
import {
  type Client,
  isNotFound,
  type Logger,
  notFoundIsUndefined,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import {
  type ACMESolver,
  DEFAULT_TSIG_ALGORITHM,
  type Issuer as IssuerResource,
  type TsigAlgorithmName,
} from '../api/types.js';
import { IssuanceError } from '../issuance.js';
import { ACMEIssuer } from '../issuers/acme/index.js';
import { CAIssuer } from '../issuers/ca.js';
import type { Issuer } from '../issuers/issuer.js';
import { SelfSignedIssuer } from '../issuers/selfsigned.js';
import { generatePrivateKey } from '../pki/index.js';
import { DNS01Solver } from '../solvers/dns01/dns01.js';
import { soaZoneFinder } from '../solvers/dns01/zone.js';
import { httpRoute } from '../solvers/http01/gateway-route.js';
import { ingressRoute } from '../solvers/http01/ingress-route.js';
import { RoutedSolver, type SolverService } from '../solvers/http01/routed.js';
import {
  HTTP01SelfCheckedSolver,
  type HTTP01SelfCheckOptions,
} from '../solvers/http01/self-check.js';
import { type Nameserver, parseNameserver } from '../solvers/resolver.js';
import type { Solver } from '../solvers/solver.js';
import { SecretValueTooLargeError, secretValue } from './secret.js';

/** Where an issuer's referenced Secrets live: its own namespace, or the cluster resource namespace. */
export interface IssuerLocation {
  kind: 'Issuer' | 'ClusterIssuer';
  /** For ClusterIssuers: the operator's cluster resource namespace. */
  namespace: string;
  resource: IssuerResource;
}

export interface IssuerBuilderOptions {
  client: Client;
  /** Answers HTTP-01 challenges. */
  http01: Solver;
  /** In a cluster: the Service reaching the challenge server, routed to by temporary routes. */
  http01Service?: SolverService;
  /** Gateway API is served and used (--enable-gateway-api): gatewayHTTPRoute solvers work. */
  gatewayAPI?: boolean;
  /** How HTTP-01 solvers check their challenge is served before the CA is asked to validate. */
  http01SelfCheck?: Omit<HTTP01SelfCheckOptions, 'logger'>;
  /** Where DNS-01 solvers with cnameStrategy Follow look CNAMEs up; default the system's. */
  dns01RecursiveNameservers?: Nameserver[];
  logger: Logger;
}

const TSIG_ALGORITHMS = {
  HMACMD5: 'hmac-md5',
  HMACSHA1: 'hmac-sha1',
  HMACSHA224: 'hmac-sha224',
  HMACSHA256: 'hmac-sha256',
  HMACSHA384: 'hmac-sha384',
  HMACSHA512: 'hmac-sha512',
} as const satisfies Record<TsigAlgorithmName, TsigKey['algorithm']>;

/**
 * A warning for each RFC2136 solver of an issuer signing with a weak TSIG algorithm (MD5,
 * cert-manager's default, included when tsigAlgorithm is unset), naming its field.
 */
export function weakTsigWarnings(spec: IssuerResource['spec']): string[] {
  return (spec.acme?.solvers ?? []).flatMap((s, i) => {
    const rfc = s.dns01?.rfc2136;
    if (!rfc?.tsigKeyName) return [];
    const name = rfc.tsigAlgorithm ?? DEFAULT_TSIG_ALGORITHM;
    const weak = weakTsigAlgorithm(TSIG_ALGORITHMS[name]);
    const unset = rfc.tsigAlgorithm ? '' : ' (the default when unset, as in cert-manager)';
    return weak
      ? [`spec.acme.solvers[${i}].dns01.rfc2136.tsigAlgorithm: ${name}${unset}: ${weak}`]
      : [];
  });
}

/**
 * Builds the signer an Issuer resource describes, reading the Secrets it names, and keeps
 * it while the resource and those Secrets are unchanged: an ACME account is registered
 * once per issuer and key, not per certificate.
 */
export class IssuerBuilder {
  private readonly built = new Map<
    string,
    { version: string; generation: number | undefined; checkedAt: number; issuer: Issuer }
  >();

  constructor(private readonly opts: IssuerBuilderOptions) {}

  /**
   * The issuer as its resource and Secrets are now. Those Secrets are not watched (only
   * managed Secrets are cached), so each build reads them; with `maxAgeMs`, an issuer
   * whose Secrets were read that recently is used as it is (a burst of issuances costs
   * one read, and a rotated credential is picked up within maxAgeMs).
   */
  async build(loc: IssuerLocation, opts: { maxAgeMs?: number } = {}): Promise<Issuer> {
    const key = `${loc.kind}/${loc.namespace}/${loc.resource.metadata?.name}`;
    const generation = loc.resource.metadata?.generation;
    const cached = this.built.get(key);
    const fresh = cached && Date.now() - cached.checkedAt < (opts.maxAgeMs ?? 0);
    if (cached && fresh && cached.generation === generation) return cached.issuer;
    const checkedAt = Date.now();
    const secrets = await this.secretVersions(loc);
    const version = `${generation}/${secrets}`;
    if (cached?.version === version) {
      cached.checkedAt = checkedAt;
      return cached.issuer;
    }
    const issuer = await this.create(loc);
    // Building may have generated a missing account key: keyed on the Secret as it was, the
    // next build would see it changed and register the account again.
    const built = secrets.includes('missing')
      ? `${generation}/${await this.secretVersions(loc)}`
      : version;
    this.built.set(key, { version: built, generation, checkedAt, issuer });
    return issuer;
  }

  private async secretVersions(loc: IssuerLocation): Promise<string> {
    const names = this.secretNames(loc.resource);
    const versions = await Promise.all(
      names.map((name) =>
        this.opts.client.get(Secrets, { namespace: loc.namespace, name }).then(
          (s) => s.metadata?.resourceVersion ?? '',
          () => 'missing',
        ),
      ),
    );
    return versions.join(',');
  }

  private secretNames(r: IssuerResource): string[] {
    const acme = r.spec.acme;
    return [
      ...(r.spec.ca ? [r.spec.ca.secretName] : []),
      ...(acme ? [acme.privateKeySecretRef.name] : []),
      ...(acme?.externalAccountBinding ? [acme.externalAccountBinding.keySecretRef.name] : []),
      ...(acme?.solvers ?? []).flatMap((s) =>
        [
          s.dns01?.rfc2136?.tsigSecretSecretRef?.name,
          s.dns01?.route53?.accessKeyIDSecretRef?.name,
          s.dns01?.route53?.secretAccessKeySecretRef?.name,
          s.dns01?.pdns?.apiKeySecretRef.name,
        ].filter((n): n is string => !!n),
      ),
    ];
  }

  private async secret(
    namespace: string,
    name: string,
    key: string,
    field: string,
  ): Promise<string> {
    const secret = await this.opts.client
      .get(Secrets, { namespace, name })
      .catch((err: unknown) => {
        if (isNotFound(err))
          throw new IssuanceError(
            'SecretNotFound',
            `${field}: Secret ${namespace}/${name} not found`,
            true,
          );
        throw err;
      });
    const value = readValue(secret, key, field);
    if (value === undefined)
      throw new IssuanceError(
        'SecretNotFound',
        `${field}: Secret ${namespace}/${name} has no key "${key}"`,
        true,
      );
    return value;
  }

  /** DNS01Solver options for a solver's cnameStrategy. */
  private cnameFollowing(s: ACMESolver): { followCname?: { nameservers?: Nameserver[] } } {
    if (s.dns01?.cnameStrategy !== 'Follow') return {};
    const nameservers = this.opts.dns01RecursiveNameservers;
    return { followCname: nameservers?.length ? { nameservers } : {} };
  }

  private async create(loc: IssuerLocation): Promise<Issuer> {
    const { spec } = loc.resource;
    if (spec.selfSigned) return new SelfSignedIssuer();
    if (spec.ca) {
      const name = spec.ca.secretName;
      const [certPem, keyPem] = await Promise.all([
        this.secret(loc.namespace, name, 'tls.crt', 'spec.ca.secretName'),
        this.secret(loc.namespace, name, 'tls.key', 'spec.ca.secretName'),
      ]);
      return new CAIssuer({ certPem, keyPem });
    }
    const acme = spec.acme;
    if (!acme)
      throw new IssuanceError(
        'BadConfig',
        'spec: one of acme, ca or selfSigned is required',
        false,
      );
    const accountKeyPem = await this.accountKey(loc);
    const eab = acme.externalAccountBinding;
    const hmacKeyBase64 = eab
      ? await this.secret(
          loc.namespace,
          eab.keySecretRef.name,
          eab.keySecretRef.key ?? 'secret',
          'spec.acme.externalAccountBinding.keySecretRef',
        )
      : undefined;
    const solvers = await Promise.all(acme.solvers.map((s, i) => this.solver(loc, s, i)));
    return new ACMEIssuer({
      directoryUrl: acme.server,
      ...(acme.email ? { email: acme.email } : {}),
      accountKeyPem,
      ...(eab && hmacKeyBase64
        ? { externalAccountBinding: { keyId: eab.keyID, hmacKeyBase64 } }
        : {}),
      ...(acme.caBundle ? { caPem: Buffer.from(acme.caBundle, 'base64').toString('utf8') } : {}),
      solverFor: (name: string) => pickSolver(acme.solvers, solvers, name),
      logger: this.opts.logger,
    });
  }

  /** The ACME account key, generated into its Secret when missing (as cert-manager does). */
  private async accountKey(loc: IssuerLocation): Promise<string> {
    const ref = loc.resource.spec.acme!.privateKeySecretRef;
    const key = ref.key ?? 'tls.key';
    const existing = await this.opts.client
      .get(Secrets, { namespace: loc.namespace, name: ref.name })
      .catch(notFoundIsUndefined);
    const pem = readValue(existing, key, 'spec.acme.privateKeySecretRef');
    if (pem) return pem;
    const generated = generatePrivateKey({ algorithm: 'ECDSA', size: 256 });
    await this.opts.client.apply(
      Secrets,
      {
        metadata: { name: ref.name, namespace: loc.namespace },
        type: 'Opaque',
        data: { [key]: Buffer.from(generated).toString('base64') },
      },
      { fieldManager: 'chousei-cert-operator' },
    );
    this.opts.logger.info(
      { secret: `${loc.namespace}/${ref.name}` },
      'generated an ACME account key',
    );
    return generated;
  }

  /**
   * The TSIG key of an RFC2136 solver, or undefined for unsigned updates. Half a key (a name
   * without a secret or the other way round) or a blank secret is refused: either would
   * quietly turn signing off, for the updates and for the check of the replies.
   */
  private async tsigKey(
    loc: IssuerLocation,
    rfc: NonNullable<NonNullable<ACMESolver['dns01']>['rfc2136']>,
    field: string,
  ): Promise<TsigKey | undefined> {
    const ref = rfc.tsigSecretSecretRef;
    if (!rfc.tsigKeyName && !ref) return undefined;
    const bad = (message: string) => new IssuanceError('BadConfig', message, false);
    if (!ref) throw bad(`${field}.tsigSecretSecretRef: required with tsigKeyName`);
    if (!rfc.tsigKeyName) throw bad(`${field}.tsigKeyName: required with tsigSecretSecretRef`);
    const key = ref.key ?? 'secret';
    const where = `${field}.tsigSecretSecretRef: Secret ${loc.namespace}/${ref.name} key "${key}"`;
    const secret = (
      await this.secret(loc.namespace, ref.name, key, `${field}.tsigSecretSecretRef`)
    ).trim();
    const problem = tsigSecretProblem(secret);
    if (problem) throw bad(`${where} ${problem}`);
    return {
      name: rfc.tsigKeyName,
      secret,
      algorithm: TSIG_ALGORITHMS[rfc.tsigAlgorithm ?? DEFAULT_TSIG_ALGORITHM],
    };
  }

  /**
   * The challenge server, reached in a cluster through a temporary HTTPRoute
   * (gatewayHTTPRoute) or Ingress.
   */
  private http01Solver(http01: NonNullable<ACMESolver['http01']>, field: string): Solver {
    const gateway = http01.gatewayHTTPRoute;
    if (gateway && !this.opts.gatewayAPI)
      throw new IssuanceError(
        'BadConfig',
        `${field}.gatewayHTTPRoute: the operator runs without --enable-gateway-api`,
        false,
      );
    const service = this.opts.http01Service;
    if (!service) return this.opts.http01;
    const { http01: server, client, logger } = this.opts;
    return gateway
      ? new RoutedSolver(
          server,
          client,
          service,
          httpRoute(gateway.parentRefs ?? []),
          logger,
          gateway.labels,
        )
      : new RoutedSolver(
          server,
          client,
          service,
          ingressRoute(http01.ingress?.ingressClassName),
          logger,
        );
  }

  private async solver(loc: IssuerLocation, s: ACMESolver, i: number): Promise<Solver> {
    const field = `spec.acme.solvers[${i}]`;
    if (s.http01) {
      const solver = this.http01Solver(s.http01, `${field}.http01`);
      if (s.http01.selfCheck === false) return solver;
      return new HTTP01SelfCheckedSolver(solver, {
        ...this.opts.http01SelfCheck,
        logger: this.opts.logger,
      });
    }
    const rfc = s.dns01?.rfc2136;
    if (rfc) {
      const { host, port } = parseNameserver(rfc.nameserver);
      const tsig = await this.tsigKey(loc, rfc, `${field}.dns01.rfc2136`);
      // RFC2136 cannot list zones: the selector's dnsZones are the ones written to; without
      // them each record's zone is found by SOA queries to the server, as cert-manager does.
      // A followed CNAME leads out of the selector's zones: found by SOA too.
      const zones = s.dns01?.cnameStrategy === 'Follow' ? [] : (s.selector?.dnsZones ?? []);
      const provider = new RFC2136Provider({
        host,
        port,
        zones: zones.length ? zones : undefined,
        ...(tsig ? { tsig } : {}),
        logger: this.opts.logger,
      });
      // The server updates go to is authoritative for the zone: it is the one to check.
      return new DNS01Solver({
        provider,
        findZone: zones.length ? undefined : soaZoneFinder({ host, port }),
        nameservers: [{ host, port }],
        selfCheck: s.dns01?.selfCheck ?? true,
        ...this.cnameFollowing(s),
        logger: this.opts.logger,
      });
    }
    const r53 = s.dns01?.route53;
    if (r53) {
      const id = r53.accessKeyIDSecretRef;
      const sk = r53.secretAccessKeySecretRef;
      const credentials =
        id && sk
          ? {
              accessKeyId: (
                await this.secret(
                  loc.namespace,
                  id.name,
                  id.key ?? 'access-key-id',
                  `${field}.dns01.route53.accessKeyIDSecretRef`,
                )
              ).trim(),
              secretAccessKey: (
                await this.secret(
                  loc.namespace,
                  sk.name,
                  sk.key ?? 'secret-access-key',
                  `${field}.dns01.route53.secretAccessKeySecretRef`,
                )
              ).trim(),
            }
          : undefined;
      const provider = new Route53Provider({
        region: r53.region ?? 'us-east-1',
        ...(credentials ? { credentials } : {}),
        ...(r53.hostedZoneID ? { zoneFilter: { zoneIds: [r53.hostedZoneID] } } : {}),
        logger: this.opts.logger,
      });
      return this.dns01Solver(s, provider);
    }
    const pdns = s.dns01?.pdns;
    if (pdns) return this.pdnsSolver(loc, s, pdns, `${field}.dns01.pdns`);
    const webhook = s.dns01?.webhook;
    if (webhook) {
      // The zones, when the provider announces none: those the selector names.
      const provider = new WebhookProvider({
        url: webhook.url,
        zones: s.selector?.dnsZones ?? [],
        logger: this.opts.logger,
      });
      return this.dns01Solver(s, provider, webhook.nameserver);
    }
    throw new IssuanceError(
      'BadConfig',
      `${field}: set http01 or dns01 (rfc2136, route53, pdns or webhook)`,
      false,
    );
  }

  /** A DNS01Solver on `provider`; the self-check asks `nameserver` when given. */
  private dns01Solver(s: ACMESolver, provider: Provider, nameserver?: string): Solver {
    return new DNS01Solver({
      provider,
      ...(nameserver ? { nameservers: [parseNameserver(nameserver)] } : {}),
      selfCheck: s.dns01?.selfCheck ?? true,
      ...this.cnameFollowing(s),
      logger: this.opts.logger,
    });
  }

  private async pdnsSolver(
    loc: IssuerLocation,
    s: ACMESolver,
    pdns: NonNullable<NonNullable<ACMESolver['dns01']>['pdns']>,
    field: string,
  ): Promise<Solver> {
    const ref = pdns.apiKeySecretRef;
    const apiKey = await this.secret(
      loc.namespace,
      ref.name,
      ref.key ?? 'api-key',
      `${field}.apiKeySecretRef`,
    );
    const provider = new PowerDNSProvider({
      server: pdns.server,
      apiKey: apiKey.trim(),
      ...(pdns.serverID ? { serverId: pdns.serverID } : {}),
      ...(pdns.caBundle ? { tls: { ca: Buffer.from(pdns.caBundle, 'base64').toString() } } : {}),
      logger: this.opts.logger,
    });
    return this.dns01Solver(s, provider, pdns.nameserver);
  }
}

/** A Secret value through secretValue, an over-limit one refused as the issuer's error. */
function readValue(secret: Secret | undefined, key: string, field: string): string | undefined {
  try {
    return secretValue(secret, key);
  } catch (err) {
    if (err instanceof SecretValueTooLargeError) {
      throw new IssuanceError('SecretTooLarge', `${field}: ${err.message}`, false, undefined, {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * cert-manager's selector rules: the solver whose dnsNames lists the name wins, then the
 * one with the longest matching dnsZones entry, then one without a selector.
 */
export function pickSolver(specs: ACMESolver[], solvers: Solver[], name: string): Solver {
  const bare = name.replace(/^\*\./, '');
  let best: { score: number; index: number } | undefined;
  specs.forEach((s, index) => {
    const sel = s.selector;
    let score = -1;
    if (!sel || (!sel.dnsNames?.length && !sel.dnsZones?.length)) score = 0;
    if (sel?.dnsNames?.includes(name)) score = 10_000;
    for (const zone of sel?.dnsZones ?? []) {
      if (bare === zone || bare.endsWith(`.${zone}`)) score = Math.max(score, zone.length + 1);
    }
    if (score >= 0 && (!best || score > best.score)) best = { score, index };
  });
  if (!best) throw new IssuanceError('NoSolver', `no solver of the issuer selects ${name}`, false);
  return solvers[best.index]!;
}
