/**
 * What the admission webhook refuses beyond the CRD schema: rules across fields (duration
 * against renewBefore), value syntax a pattern cannot check well (IP addresses, URLs,
 * nameservers), duplicates, and the CEL rules again for clusters with older CRDs.
 *
 * The certificate controller applies the same rules (validateCertificate) before it issues,
 * so a cluster without the webhook is held to them too. New bounds on existing fields go
 * here, not into the schema: on Kubernetes before 1.30 (no validation ratcheting) a stored
 * object the schema came to refuse could not even lose its finalizer; the webhook lets an
 * unchanged spec through, and the controller does not issue it.
 *
 * Pure functions over the object as the API server sends it: nothing is assumed about its
 * shape, so an object stored under a looser schema gives field errors, not a throw.
 */
import { isIP } from 'node:net';
import { DEFAULT_DURATION_MS, MAX_DURATION_LENGTH, parseDuration } from '../api/duration.js';
import { MAX_COMMON_NAME, MAX_DNS_NAME } from '../api/limits.js';
import { GROUP } from '../api/types.js';
import { KEY_USAGES } from '../pki/index.js';
import { normalizeIp } from '../pki/shared.js';

/** One problem, named by its path in the object (e.g. `spec.dnsNames[1]`). */
export interface FieldError {
  field: string;
  message: string;
}

export interface CertificateValidation {
  /** Reasons to refuse the object. */
  errors: FieldError[];
  /** Accepted, but probably not what was meant (admission warnings). */
  warnings: FieldError[];
}

/** cert-manager's minimum certificate duration. */
export const MIN_DURATION_MS = 3_600_000;
/** cert-manager's minimum renewBefore. */
export const MIN_RENEW_BEFORE_MS = 5 * 60_000;
/** The longest label of a DNS name (RFC 1035). */
export const MAX_DNS_LABEL = 63;
/** API groups an issuerRef may name: ours, and cert-manager's for migrated manifests. */
export const ISSUER_GROUPS = [GROUP, 'cert-manager.io'] as const;

const KEY_SIZES: Record<string, readonly number[]> = {
  ECDSA: [256, 384],
  RSA: [2048, 3072, 4096],
  Ed25519: [],
};
const USAGES: readonly string[] = KEY_USAGES;
/** A hostname (labels of letters, digits and inner hyphens), any case, optional final dot. */
const HOSTNAME = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.?$/i;
/** The WHATWG HTML "valid email address": what a browser's type=email accepts. */
const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Set in the JSON sense: present and not null. */
const isSet = (v: unknown) => v !== undefined && v !== null;
/** Longest value quoted whole in a message; a longer one (a hostile megabyte) is cut. */
const MAX_QUOTED = 100;
const q = (v: unknown) =>
  typeof v === 'string' && v.length > MAX_QUOTED
    ? `${JSON.stringify(v.slice(0, MAX_QUOTED))}... (${v.length} characters)`
    : JSON.stringify(v);

/** The object's `spec`, or an error when there is none to validate. */
function specOf(obj: unknown, errors: FieldError[]): Obj | undefined {
  const spec = isObj(obj) ? obj.spec : undefined;
  if (isObj(spec)) return spec;
  errors.push({ field: 'spec', message: 'required' });
  return undefined;
}

/** The strings of a list field; an error for a non-list or a non-string item. */
function stringList(value: unknown, field: string, errors: FieldError[]): [string, number][] {
  if (!isSet(value)) return [];
  if (!Array.isArray(value)) {
    errors.push({ field, message: 'must be a list' });
    return [];
  }
  const out: [string, number][] = [];
  value.forEach((item, i) => {
    if (typeof item === 'string') out.push([item, i]);
    else errors.push({ field: `${field}[${i}]`, message: 'must be a string' });
  });
  return out;
}

/** A string field's value; an error when it is set to something else. */
function stringField(value: unknown, field: string, errors: FieldError[]): string | undefined {
  if (!isSet(value)) return undefined;
  if (typeof value === 'string') return value;
  errors.push({ field, message: 'must be a string' });
  return undefined;
}

/** Errors for items equal (under `key`) to an earlier one, naming the first. */
function duplicates(
  items: [string, number][],
  field: string,
  key: (s: string) => string,
  errors: FieldError[],
): void {
  const first = new Map<string, number>();
  for (const [item, i] of items) {
    const k = key(item);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, i);
    else
      errors.push({
        field: `${field}[${i}]`,
        message: `duplicate of ${field}[${seen}] (${q(item)})`,
      });
  }
}

/** A DNS name as compared: lower case, without its final dot. */
const bareName = (name: string) => (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();

/** Characters as X.509 counts them (code points). */
const codePoints = (text: string) => [...text].length;

/** Why a DNS name cannot be certified (a misplaced wildcard, an IP address, a long label). */
function dnsNameProblem(name: string): string | undefined {
  if (name.length > MAX_DNS_NAME) return `${q(name)}: at most ${MAX_DNS_NAME} characters`;
  const stars = name.split('*').length - 1;
  if (stars > 1) return `${q(name)} has ${stars} wildcards; at most one, as the first label`;
  const labels = name.split('.');
  if (stars && labels[0] !== '*') {
    return `${q(name)}: a wildcard must be the whole first label, as in *.example.com`;
  }
  if (stars && labels.slice(1).join('') === '') {
    return `${q(name)}: a wildcard needs a domain under it, as in *.example.com`;
  }
  // The schema's pattern takes 192.0.2.1 for a name; no CA validates it as one.
  if (isIP(name)) return `${q(name)} is an IP address: list it in spec.ipAddresses`;
  const long = labels.find((l) => l.length > MAX_DNS_LABEL);
  if (long) {
    return `${q(name)}: the label ${q(long)} has ${long.length} characters; at most ${MAX_DNS_LABEL}`;
  }
  return undefined;
}

function validateDurations(spec: Obj, errors: FieldError[]): void {
  const parse = (field: 'duration' | 'renewBefore') => {
    const text = stringField(spec[field], `spec.${field}`, errors);
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined) {
      errors.push({
        field: `spec.${field}`,
        message:
          text.length > MAX_DURATION_LENGTH
            ? `has ${text.length} characters; a duration has at most ${MAX_DURATION_LENGTH}`
            : `${q(text)} is not a duration such as 2160h or 90m`,
      });
    }
    return ms === undefined ? undefined : { text, ms };
  };
  const duration = parse('duration');
  const renewBefore = parse('renewBefore');
  if (duration && duration.ms < MIN_DURATION_MS) {
    errors.push({
      field: 'spec.duration',
      message: `${duration.text} is shorter than the minimum certificate duration, 1h`,
    });
  }
  if (!renewBefore) return;
  if (renewBefore.ms < MIN_RENEW_BEFORE_MS) {
    errors.push({
      field: 'spec.renewBefore',
      message: `${renewBefore.text} is shorter than the minimum, 5m`,
    });
  }
  // An unparsable duration was reported above; the comparison needs a valid one.
  if (isSet(spec.duration) && !duration) return;
  const durationMs = duration?.ms ?? DEFAULT_DURATION_MS;
  if (renewBefore.ms >= durationMs) {
    const of = duration ? `spec.duration (${duration.text})` : 'the default duration (2160h)';
    errors.push({
      field: 'spec.renewBefore',
      message: `${renewBefore.text} must be shorter than ${of}: the certificate would always be due for renewal`,
    });
  }
}

function validatePrivateKey(spec: Obj, errors: FieldError[]): void {
  const key = spec.privateKey;
  if (!isSet(key)) return;
  if (!isObj(key)) {
    errors.push({ field: 'spec.privateKey', message: 'must be an object' });
    return;
  }
  const algorithm = stringField(key.algorithm, 'spec.privateKey.algorithm', errors) ?? 'ECDSA';
  const sizes = KEY_SIZES[algorithm];
  if (!sizes) {
    errors.push({
      field: 'spec.privateKey.algorithm',
      message: `${q(algorithm)} is not one of ECDSA, RSA or Ed25519`,
    });
    return;
  }
  if (!isSet(key.size)) return;
  if (sizes.includes(key.size as number)) return;
  // The controller defaults the algorithm to ECDSA: a size alone is an ECDSA size.
  const which = isSet(key.algorithm) ? algorithm : 'ECDSA (the default algorithm)';
  errors.push({
    field: 'spec.privateKey.size',
    message: sizes.length
      ? `${q(key.size)} is not a key size for ${which}: use ${sizes.join(' or ')}`
      : `must be unset for ${algorithm}, whose keys have one size`,
  });
}

/**
 * A Certificate's problems: `errors` refuse it, `warnings` are passed on to the client.
 * cert-manager's rules where it has them (duration at least 1h, renewBefore at least 5m
 * and shorter than the duration, commonName among the SANs only as a warning).
 */
export function validateCertificate(obj: unknown): CertificateValidation {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  const spec = specOf(obj, errors);
  if (!spec) return { errors, warnings };

  const ref = spec.issuerRef;
  if (isObj(ref)) {
    const group = stringField(ref.group, 'spec.issuerRef.group', errors);
    if (group && !(ISSUER_GROUPS as readonly string[]).includes(group)) {
      errors.push({
        field: 'spec.issuerRef.group',
        message: `${q(group)} is not an issuer group this operator serves: use ${ISSUER_GROUPS.join(' or ')}, or leave it unset`,
      });
    }
    const kind = stringField(ref.kind, 'spec.issuerRef.kind', errors);
    if (kind !== undefined && kind !== 'Issuer' && kind !== 'ClusterIssuer') {
      errors.push({
        field: 'spec.issuerRef.kind',
        message: `${q(kind)} is not Issuer or ClusterIssuer`,
      });
    }
  } else {
    errors.push({ field: 'spec.issuerRef', message: 'required' });
  }

  const dnsNames = stringList(spec.dnsNames, 'spec.dnsNames', errors);
  for (const [name, i] of dnsNames) {
    const problem = dnsNameProblem(name);
    if (problem) errors.push({ field: `spec.dnsNames[${i}]`, message: problem });
  }
  // Names refused for their length are not compared: a hostile megabyte costs nothing more.
  const comparable = dnsNames.filter(([n]) => n.length <= MAX_DNS_NAME);
  duplicates(comparable, 'spec.dnsNames', bareName, errors);

  const ipAddresses = stringList(spec.ipAddresses, 'spec.ipAddresses', errors);
  const validIps: [string, number][] = [];
  for (const [ip, i] of ipAddresses) {
    try {
      validIps.push([normalizeIp(ip), i]);
    } catch {
      errors.push({ field: `spec.ipAddresses[${i}]`, message: `${q(ip)} is not an IP address` });
    }
  }
  // Compared canonically: ::1 and 0:0::1 are one address (the message shows the canonical form).
  duplicates(validIps, 'spec.ipAddresses', (ip) => ip, errors);

  const commonName = stringField(spec.commonName, 'spec.commonName', errors);
  if (commonName !== undefined) {
    // Each character is one or two UTF-16 units: past twice the bound, none need counting.
    const has =
      commonName.length > 2 * MAX_COMMON_NAME
        ? `over ${2 * MAX_COMMON_NAME}`
        : codePoints(commonName);
    const tooLong = typeof has === 'string' || has > MAX_COMMON_NAME;
    if (tooLong) {
      errors.push({
        field: 'spec.commonName',
        message: `must be at most ${MAX_COMMON_NAME} characters; it has ${has}`,
      });
    }
    if (!tooLong && (dnsNames.length || ipAddresses.length)) {
      const cn = bareName(commonName);
      let canonicalCn: string | undefined;
      try {
        canonicalCn = normalizeIp(commonName);
      } catch {}
      const listed =
        comparable.some(([n]) => bareName(n) === cn) || validIps.some(([ip]) => ip === canonicalCn);
      if (!listed) {
        warnings.push({
          field: 'spec.commonName',
          message: `${q(commonName)} is not among spec.dnsNames or spec.ipAddresses: clients ignore the common name when the certificate has alternative names`,
        });
      }
    }
  }
  if (!commonName && !dnsNames.length && !ipAddresses.length) {
    errors.push({
      field: 'spec',
      message: 'at least one of commonName, dnsNames or ipAddresses is required',
    });
  }

  validateDurations(spec, errors);
  validatePrivateKey(spec, errors);

  const usages = stringList(spec.usages, 'spec.usages', errors);
  for (const [usage, i] of usages) {
    if (!USAGES.includes(usage)) {
      errors.push({
        field: `spec.usages[${i}]`,
        message: `${q(usage)} is not one of ${USAGES.join(', ')}`,
      });
    }
  }
  duplicates(usages, 'spec.usages', (u) => u, errors);

  return { errors, warnings };
}

/** Why an rfc2136 nameserver is not `host[:port]`, if it is not. */
function nameserverProblem(text: string): string | undefined {
  const value = text.trim();
  const example = 'write host or host:port, as 10.0.0.53:53 or [2001:db8::53]:53';
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
    if (isIP(host) !== 6) return `${q(text)}: only an IPv6 address goes in brackets`;
  } else {
    const parts = value.split(':');
    if (parts.length > 2) {
      return `${q(text)}: put an IPv6 address in brackets, as [2001:db8::53]:53`;
    }
    host = parts[0]!;
    port = parts[1];
    if (!host) return `${q(text)} names no host; ${example}`;
    // All digits and dots: meant as an IPv4 address, so it must be one.
    const valid = /^[\d.]+$/.test(host) ? isIP(host) === 4 : HOSTNAME.test(host);
    if (!valid) return `${q(text)}: ${q(host)} is neither an IP address nor a host name`;
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || +port < 1 || +port > 65535)) {
    return `${q(text)}: the port must be a number from 1 to 65535`;
  }
  return undefined;
}

/** Errors for a pair of fields that are set together or not at all. */
function together(parent: Obj, a: string, b: string, field: string, errors: FieldError[]): void {
  const hasA = isSet(parent[a]) && parent[a] !== '';
  const hasB = isSet(parent[b]) && parent[b] !== '';
  if (hasA && !hasB) errors.push({ field: `${field}.${b}`, message: `required when ${a} is set` });
  if (hasB && !hasA) errors.push({ field: `${field}.${a}`, message: `required when ${b} is set` });
}

/** A solver's `nameserver` (host[:port]), required or not. */
function validateNameserver(
  ns: unknown,
  field: string,
  required: boolean,
  errors: FieldError[],
): void {
  if (!isSet(ns) || (typeof ns === 'string' && !ns.trim())) {
    if (required) errors.push({ field, message: 'required' });
  } else if (typeof ns !== 'string') {
    errors.push({ field, message: 'must be a string' });
  } else {
    const problem = nameserverProblem(ns);
    if (problem) errors.push({ field, message: problem });
  }
}

/** An http(s) URL a DNS-01 solver calls (PowerDNS's API, a webhook provider). */
function validateHttpUrl(value: unknown, field: string, errors: FieldError[]): void {
  const text = stringField(value, field, errors);
  if (text === undefined) {
    if (!isSet(value)) errors.push({ field, message: 'required' });
    return;
  }
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {}
  if (!url || !['http:', 'https:'].includes(url.protocol) || !url.hostname)
    errors.push({ field, message: `${q(text)} is not an http or https URL` });
}

function validatePdns(pdns: unknown, at: string, errors: FieldError[]): void {
  if (!isObj(pdns)) {
    if (isSet(pdns)) errors.push({ field: at, message: 'must be an object' });
    return;
  }
  validateHttpUrl(pdns.server, `${at}.server`, errors);
  if (!isSet(pdns.apiKeySecretRef))
    errors.push({ field: `${at}.apiKeySecretRef`, message: 'required' });
  validateNameserver(pdns.nameserver, `${at}.nameserver`, false, errors);
}

function validateWebhook(webhook: unknown, at: string, errors: FieldError[]): void {
  if (!isObj(webhook)) {
    if (isSet(webhook)) errors.push({ field: at, message: 'must be an object' });
    return;
  }
  validateHttpUrl(webhook.url, `${at}.url`, errors);
  validateNameserver(webhook.nameserver, `${at}.nameserver`, false, errors);
}

function validateSolver(solver: unknown, field: string, errors: FieldError[]): void {
  if (!isObj(solver)) {
    errors.push({ field, message: 'must be an object' });
    return;
  }
  const types = (['http01', 'dns01'] as const).filter((t) => isSet(solver[t]));
  if (types.length !== 1) {
    errors.push({
      field,
      message: `exactly one of http01 or dns01 must be set${types.length ? ', not both' : ''}`,
    });
  }
  const http01 = solver.http01;
  if (isObj(http01) && isSet(http01.ingress) && isSet(http01.gatewayHTTPRoute)) {
    errors.push({
      field: `${field}.http01`,
      message: 'set ingress or gatewayHTTPRoute, not both: a challenge is routed one way',
    });
  }
  const dns01 = solver.dns01;
  if (!isSet(dns01)) return;
  if (!isObj(dns01)) {
    errors.push({ field: `${field}.dns01`, message: 'must be an object' });
    return;
  }
  const providers = (['rfc2136', 'route53', 'pdns', 'webhook'] as const).filter((p) =>
    isSet(dns01[p]),
  );
  if (providers.length !== 1) {
    errors.push({
      field: `${field}.dns01`,
      message: providers.length
        ? `exactly one provider must be set; it has ${providers.join(' and ')}`
        : 'exactly one provider (rfc2136, route53, pdns or webhook) must be set',
    });
  }
  const rfc = dns01.rfc2136;
  if (isObj(rfc)) {
    const at = `${field}.dns01.rfc2136`;
    validateNameserver(rfc.nameserver, `${at}.nameserver`, true, errors);
    together(rfc, 'tsigKeyName', 'tsigSecretSecretRef', at, errors);
  } else if (isSet(rfc)) {
    errors.push({ field: `${field}.dns01.rfc2136`, message: 'must be an object' });
  }
  validatePdns(dns01.pdns, `${field}.dns01.pdns`, errors);
  validateWebhook(dns01.webhook, `${field}.dns01.webhook`, errors);
  const r53 = dns01.route53;
  if (isObj(r53)) {
    together(
      r53,
      'accessKeyIDSecretRef',
      'secretAccessKeySecretRef',
      `${field}.dns01.route53`,
      errors,
    );
  } else if (isSet(r53)) {
    errors.push({ field: `${field}.dns01.route53`, message: 'must be an object' });
  }
}

function validateAcme(acme: Obj, errors: FieldError[]): void {
  const server = stringField(acme.server, 'spec.acme.server', errors);
  if (server === undefined) {
    if (!isSet(acme.server)) errors.push({ field: 'spec.acme.server', message: 'required' });
  } else {
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {}
    if (!url) {
      errors.push({ field: 'spec.acme.server', message: `${q(server)} is not a URL` });
    } else if (url.protocol !== 'https:' || !url.hostname) {
      errors.push({
        field: 'spec.acme.server',
        message: `${q(server)} is not an https URL; ACME directories are served over TLS`,
      });
    }
  }

  const email = stringField(acme.email, 'spec.acme.email', errors);
  if (email && !EMAIL.test(email)) {
    errors.push({ field: 'spec.acme.email', message: `${q(email)} is not an email address` });
  }

  const eab = acme.externalAccountBinding;
  if (isObj(eab)) {
    const keyID = stringField(eab.keyID, 'spec.acme.externalAccountBinding.keyID', errors);
    if (!keyID?.trim()) {
      errors.push({
        field: 'spec.acme.externalAccountBinding.keyID',
        message: 'must not be empty',
      });
    }
  }

  const solvers = acme.solvers;
  if (!Array.isArray(solvers) || !solvers.length) {
    errors.push({ field: 'spec.acme.solvers', message: 'at least one solver is required' });
    return;
  }
  solvers.forEach((s, i) => {
    validateSolver(s, `spec.acme.solvers[${i}]`, errors);
  });
}

/**
 * An Issuer's or ClusterIssuer's problems (both have the same spec). The issuer kind, acme,
 * ca or selfSigned, is checked again here for clusters whose CRDs predate its CEL rule.
 */
export function validateIssuer(obj: unknown, kind: 'Issuer' | 'ClusterIssuer'): FieldError[] {
  const errors: FieldError[] = [];
  const spec = specOf(obj, errors);
  if (!spec) return errors;
  const set = (['acme', 'ca', 'selfSigned'] as const).filter((k) => isSet(spec[k]));
  if (set.length !== 1) {
    errors.push({
      field: 'spec',
      message: set.length
        ? `issuer kinds mixed: a ${kind} has exactly one of acme, ca or selfSigned, not ${set.join(' and ')}`
        : `a ${kind} needs exactly one of acme, ca or selfSigned`,
    });
  }
  if (isObj(spec.acme)) validateAcme(spec.acme, errors);
  else if (isSet(spec.acme)) errors.push({ field: 'spec.acme', message: 'must be an object' });
  if (isObj(spec.ca)) {
    const secretName = stringField(spec.ca.secretName, 'spec.ca.secretName', errors);
    if (!secretName) errors.push({ field: 'spec.ca.secretName', message: 'required' });
  } else if (isSet(spec.ca)) {
    errors.push({ field: 'spec.ca', message: 'must be an object' });
  }
  return errors;
}
