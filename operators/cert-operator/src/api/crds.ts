import { domainPolicyCRD } from '@chousei/dns';
import {
  ageColumn,
  conditionColumns,
  conditionsSchema,
  customResourceDefinition,
  type JSONSchemaProps,
  type PrinterColumn,
} from '@chousei/runtime';
import { KEY_USAGES } from '../pki/index.js';
import { DURATION_PATTERN, MAX_DURATION_LENGTH } from './duration.js';
import { MAX_COMMON_NAME, MAX_DNS_NAME } from './limits.js';
import { DEFAULT_TSIG_ALGORITHM, GROUP, TSIG_ALGORITHM_NAMES, VERSION } from './types.js';

/** An OpenAPI v3 schema node as the API server reads it (the runtime's, under its old name). */
export type Schema = JSONSchemaProps;

// Every field carries a `description`: `kubectl explain` shows it, and
// scripts/generate-crd-docs.mjs renders the reference tables from it (a closing
// "Default: X." sentence becomes the table's default column).
const str = (description: string, extra: Schema = {}): Schema => ({
  type: 'string',
  description,
  ...extra,
});
const strList = (description: string, item: Schema = {}, extra: Schema = {}): Schema => ({
  type: 'array',
  description,
  items: { type: 'string', ...item },
  ...extra,
});
const obj = (
  description: string,
  properties: Record<string, Schema>,
  extra: Schema = {},
): Schema => ({
  type: 'object',
  description,
  properties,
  ...extra,
});
const int = (description: string, extra: Schema = {}): Schema => ({
  type: 'integer',
  description,
  ...extra,
});
const bool = (description: string): Schema => ({ type: 'boolean', description });
const stringMap = (description: string): Schema => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});
/** A key of a Secret in the issuer's Secret namespace. */
const secretRef = (description: string, defaultKey: string): Schema =>
  obj(
    description,
    {
      name: str(
        "Name of the Secret: in the Issuer's namespace, or for a ClusterIssuer in the operator's cluster resource namespace.",
        { minLength: 1 },
      ),
      key: str(`Key within the Secret's data. Default: ${defaultKey}.`),
    },
    { required: ['name'] },
  );

const DNS_NAME = '^(\\*\\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const USAGES: readonly string[] = KEY_USAGES;

export const certificateSchema: Schema = obj(
  'A certificate kept in a TLS Secret and renewed, signed by the Issuer or ClusterIssuer it names.',
  {
    spec: obj(
      'What to issue and where to keep it.',
      {
        secretName: str(
          "Secret (type kubernetes.io/tls, in this namespace) the certificate is written to: tls.crt (leaf, then chain), tls.key (PKCS#8) and ca.crt when known. A Secret already there is written only when the operator made it, or it is annotated cert.chousei.dev/certificate-name (or cert-manager's cert-manager.io/certificate-name) with this Certificate's name; of several Certificates naming one Secret, the oldest keeps it (the others are Ready=False).",
          { minLength: 1, maxLength: 253 },
        ),
        issuerRef: obj(
          'The issuer that signs.',
          {
            name: str('Name of the Issuer (in this namespace) or ClusterIssuer.', {
              minLength: 1,
            }),
            kind: str('Issuer or ClusterIssuer. Default: Issuer.', {
              enum: ['Issuer', 'ClusterIssuer'],
            }),
            group: str(
              "cert.chousei.dev, or cert-manager.io as cert-manager manifests have it: both name this operator's issuers (other groups are refused by the webhook, and never issued).",
            ),
          },
          { required: ['name'] },
        ),
        commonName: str(
          'Subject common name. ACME servers are asked for it as a name too; the webhook warns when it is not among dnsNames or ipAddresses.',
          { maxLength: MAX_COMMON_NAME },
        ),
        dnsNames: strList(
          'DNS names (subject alternative names). A wildcard only as the whole first label, as in *.example.com; labels of at most 63 characters; no IP addresses (those go in ipAddresses).',
          { pattern: DNS_NAME, maxLength: MAX_DNS_NAME },
          { maxItems: 100 },
        ),
        ipAddresses: strList(
          'IP addresses (subject alternative names).',
          { maxLength: 45 },
          { maxItems: 100 },
        ),
        duration: str(
          "Requested lifetime, a Go duration such as 2160h or 90m; at least 1h and longer than renewBefore (else refused by the webhook, and never issued). CA and self-signed issuers use it (capped at the CA's own expiry); ACME servers choose their own. Default: 2160h.",
          { pattern: DURATION_PATTERN, maxLength: MAX_DURATION_LENGTH },
        ),
        renewBefore: str(
          'How long before expiry to issue again, a Go duration; at least 5m (else refused by the webhook, and never issued). Default: a third of the issued lifetime.',
          { pattern: DURATION_PATTERN, maxLength: MAX_DURATION_LENGTH },
        ),
        privateKey: obj(
          'The private key generated for the certificate.',
          {
            algorithm: str('ECDSA, RSA or Ed25519. Default: ECDSA.', {
              enum: ['ECDSA', 'RSA', 'Ed25519'],
            }),
            size: int(
              'ECDSA: 256 (P-256) or 384 (P-384); RSA: 2048, 3072 or 4096 bits; Ed25519: unset. Default: 256 for ECDSA, 2048 for RSA.',
              { enum: [256, 384, 2048, 3072, 4096] },
            ),
            rotationPolicy: str(
              'Always: a new key at every issuance; Never: keep the key in the Secret while it has this algorithm and size. Default: Always.',
              { enum: ['Always', 'Never'] },
            ),
          },
          {
            'x-kubernetes-validations': [
              {
                rule: "!has(self.size) || !has(self.algorithm) || (self.algorithm == 'ECDSA' ? self.size in [256, 384] : self.algorithm == 'RSA' ? self.size in [2048, 3072, 4096] : false)",
                message:
                  'size must be 256 or 384 for ECDSA, 2048, 3072 or 4096 for RSA, and unset for Ed25519',
                fieldPath: '.size',
              },
            ],
          },
        ),
        usages: strList(
          'Key usages and extended key usages, for CA and self-signed issuers (ACME servers choose their own). Default: digital signature and server auth, plus key encipherment for RSA keys; with isCA, cert sign instead of server auth.',
          { enum: USAGES },
          { maxItems: 6 },
        ),
        secretTemplate: obj('Labels and annotations for the Secret, written with each issuance.', {
          labels: stringMap('Labels added to the Secret.'),
          annotations: stringMap('Annotations added to the Secret.'),
        }),
        secretDeletionPolicy: str(
          'Delete: the Secret is deleted with the Certificate (only a Secret this Certificate wrote); Retain: it stays. Default: Delete.',
          { enum: ['Delete', 'Retain'] },
        ),
        isCA: bool(
          'Issue a CA certificate (basic constraints CA, with cert sign), for CA and self-signed issuers. Default: false.',
        ),
      },
      {
        required: ['secretName', 'issuerRef'],
        'x-kubernetes-validations': [
          {
            rule: 'has(self.commonName) || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0)',
            message: 'at least one of commonName, dnsNames or ipAddresses is required',
          },
        ],
      },
    ),
    status: obj('Written by the operator.', {
      conditions: conditionsSchema(
        'Ready: whether the Secret holds a valid certificate for this spec, with the reason. Issuing: whether an issuance is in progress; set it True with reason ManuallyTriggered (status subresource) to ask for one now.',
      ),
      observedGeneration: int('metadata.generation the last issuance or failure was for.'),
      notBefore: str("Start of the current certificate's validity.", { format: 'date-time' }),
      notAfter: str("End of the current certificate's validity.", { format: 'date-time' }),
      renewalTime: str(
        'When the certificate is due for renewal (an ACME server offering renewal information may suggest this time).',
        { format: 'date-time' },
      ),
      revision: int('Issuances so far: 1 after the first.'),
      failedIssuanceAttempts: int(
        'Consecutive failed issuances for this spec; each doubles the wait before the next. Cleared by a success.',
      ),
      lastFailureTime: str('When the last issuance failed.', { format: 'date-time' }),
      acmeOrder: obj(
        'The ACME order in progress: a restarted operator resumes it instead of ordering again.',
        { url: str('URL of the order at the ACME server.') },
      ),
      nextPrivateKeySecretName: str(
        'Secret (NAME-next-key) holding the key of the issuance in progress, so a resumed order is finalized with the same key.',
      ),
    }),
  },
  { required: ['spec'] },
);

const solver = obj('One way to answer challenges, and the names it answers for.', {
  selector: obj(
    'The names this solver answers for; unset or empty: any name no other solver selects.',
    {
      dnsNames: strList(
        'Names, exactly as in the Certificate (*.example.com included).',
        {},
        {
          maxItems: 100,
        },
      ),
      dnsZones: strList(
        'Zones: names equal to or under one of them. An rfc2136 solver writes only to these zones (the most specific one holding the name); without them it finds the zone of each record by asking its nameserver for SOA records, as cert-manager does.',
        {},
        { maxItems: 100 },
      ),
    },
  ),
  http01: obj(
    "HTTP-01: the operator's challenge server answers, reached through a temporary Ingress (or HTTPRoute, with gatewayHTTPRoute) per challenge (the path /.well-known/acme-challenge/TOKEN, an Exact match), removed afterwards.",
    {
      ingress: obj('The temporary Ingress.', {
        ingressClassName: str(
          "Ingress class of the temporary Ingress; unset: the cluster's default class.",
        ),
      }),
      gatewayHTTPRoute: obj(
        "A temporary Gateway API HTTPRoute instead of the Ingress (with --enable-gateway-api), in the operator's namespace beside its solver Service: the listeners it attaches to must admit routes from there (allowedRoutes).",
        {
          parentRefs: {
            type: 'array',
            description: 'The Gateways (or ListenerSets) the HTTPRoute attaches to.',
            maxItems: 32,
            items: obj(
              'A parent, as in an HTTPRoute.',
              {
                group: str('Default gateway.networking.k8s.io.'),
                kind: str('Gateway or ListenerSet. Default: Gateway.'),
                namespace: str(
                  "Namespace of the parent; unset: the operator's namespace (where the route is).",
                ),
                name: str('Name of the parent.', { minLength: 1 }),
                sectionName: str('One listener of the parent, by name.'),
                port: int('One port of the parent.', { minimum: 1, maximum: 65535 }),
              },
              { required: ['name'] },
            ),
          },
          labels: stringMap("Labels of the HTTPRoute, beside the operator's own."),
        },
      ),
      selfCheck: bool(
        'Before asking the CA to validate, wait (up to --http01-self-check-timeout, 2 minutes) until http://NAME/.well-known/acme-challenge/TOKEN answers the key authorization, as the CA will fetch it. false: no wait, e.g. when the operator cannot reach the address the CA does (no hairpin NAT). Default: true.',
      ),
    },
  ),
  dns01: obj(
    'DNS-01: the TXT record _acme-challenge.NAME is written through a DNS service and removed afterwards.',
    {
      rfc2136: obj(
        'A DNS server taking RFC2136 updates (BIND9, PowerDNS, Knot), signed with TSIG.',
        {
          nameserver: str(
            'HOST or HOST:PORT (port 53 when not given) of the server taking the updates; the self-check asks it too, as do the SOA queries finding the zone when selector.dnsZones is unset.',
            { minLength: 1 },
          ),
          tsigKeyName: str('TSIG key name; with tsigSecretSecretRef.'),
          tsigAlgorithm: str(
            `${TSIG_ALGORITHM_NAMES.join(', ')} (upper case). Default: ${DEFAULT_TSIG_ALGORITHM}, as cert-manager's; HMACMD5, HMACSHA1 and HMACSHA224 are weak (RFC 8945), kept for servers that know no other, with a Warning Event on the issuer.`,
            { enum: [...TSIG_ALGORITHM_NAMES] },
          ),
          tsigSecretSecretRef: secretRef('The TSIG secret, base64.', 'secret'),
        },
        { required: ['nameserver'] },
      ),
      route53: obj('Amazon Route53.', {
        region: str('AWS region of the API client. Default: us-east-1.'),
        hostedZoneID: str(
          'Hosted zone to write to; unset: the most specific zone holding the name among those the credentials can list.',
        ),
        accessKeyIDSecretRef: secretRef(
          "The access key id; with secretAccessKeySecretRef. Neither: the pod's own AWS identity (IRSA, EKS Pod Identity, instance role, AWS_* environment).",
          'access-key-id',
        ),
        secretAccessKeySecretRef: secretRef('The secret access key.', 'secret-access-key'),
      }),
      pdns: obj(
        'A PowerDNS Authoritative Server, through its HTTP API (zones listed by the API; the most specific zone holding the name is written).',
        {
          server: str('URL of its webserver, e.g. http://pdns.dns.svc:8081.', {
            minLength: 1,
          }),
          serverID: str('Server id in the API paths. Default: localhost.'),
          apiKeySecretRef: secretRef('The API key (api-key in pdns.conf).', 'api-key'),
          nameserver: str(
            "HOST or HOST:PORT (port 53 when not given) of the server's DNS service: the self-check asks it. Unset: the zone's NS servers, as the system resolver finds them.",
          ),
          caBundle: str('Base64 PEM of the CAs to trust for an https server.'),
        },
        { required: ['server', 'apiKeySecretRef'] },
      ),
      webhook: obj(
        "An external-dns webhook provider (Cloudflare, Hetzner, IONOS, ... or chousei-dns-webhook), spoken to as external-dns does. Its zones are the domains its domain filter announces, else selector.dnsZones. Not cert-manager's webhook solvers (groupName, solverName), which Chousei does not run.",
        {
          url: str('Its URL, e.g. http://dns-webhook.dns.svc:8888.', { minLength: 1 }),
          nameserver: str(
            "HOST or HOST:PORT (port 53 when not given) the self-check asks. Unset: the zone's NS servers, as the system resolver finds them.",
          ),
        },
        { required: ['url'] },
      ),
      selfCheck: bool(
        "Before asking the CA to validate, wait (up to 2 minutes) until the zone's authoritative servers answer the TXT value: for rfc2136 its nameserver, for pdns and webhook their nameserver when set, otherwise (and for route53) the zone's NS servers as the system resolver finds them. false: no wait, e.g. with split-horizon DNS. Default: true.",
      ),
      cnameStrategy: str(
        'Follow: when _acme-challenge.NAME is a CNAME (a validation zone delegated to this DNS service), write the TXT where the CNAMEs lead, looked up through --dns01-recursive-nameservers (default the system resolver), as cert-manager does. None: write at _acme-challenge.NAME. Default: None.',
        { enum: ['None', 'Follow'] },
      ),
    },
  ),
});

export const issuerSchema: Schema = obj(
  "Signs certificates: an ACME account, a CA key pair, or self-signing. An Issuer serves Certificates of its namespace and reads Secrets there; a ClusterIssuer serves every namespace and reads Secrets in the operator's cluster resource namespace.",
  {
    spec: obj(
      'Exactly one of acme, ca or selfSigned.',
      {
        acme: obj(
          'An ACME server (such as Let’s Encrypt), the account there, and how to answer its challenges.',
          {
            server: str(
              'Directory URL, https, e.g. https://acme-staging-v02.api.letsencrypt.org/directory.',
              { pattern: '^https://' },
            ),
            email: str('Contact email registered with the account.'),
            privateKeySecretRef: secretRef(
              'The ACME account key; an ECDSA P-256 key is generated into the Secret when it is missing.',
              'tls.key',
            ),
            externalAccountBinding: obj(
              'External account binding, for ACME servers that require one.',
              {
                keyID: str('Key identifier the CA gave.', { minLength: 1 }),
                keySecretRef: secretRef('The HMAC key the CA gave (base64url).', 'secret'),
              },
              { required: ['keyID', 'keySecretRef'] },
            ),
            caBundle: str(
              "Base64 of PEM CA certificates to trust for the ACME server's TLS, besides the usual roots (private ACME servers).",
            ),
            solvers: {
              type: 'array',
              description:
                'How to answer challenges. Per name: the solver whose selector.dnsNames lists it, else the one with the longest matching selector.dnsZones entry, else one without a selector.',
              items: solver,
              minItems: 1,
              maxItems: 20,
            },
          },
          { required: ['server', 'privateKeySecretRef', 'solvers'] },
        ),
        ca: obj(
          'Signs with a CA key pair kept in a Secret.',
          {
            secretName: str(
              'Secret with tls.crt (the CA certificate, then its chain) and tls.key.',
              { minLength: 1 },
            ),
          },
          { required: ['secretName'] },
        ),
        selfSigned: obj('Each certificate is signed with its own key.', {}),
      },
      {
        'x-kubernetes-validations': [
          {
            rule: '(has(self.acme) ? 1 : 0) + (has(self.ca) ? 1 : 0) + (has(self.selfSigned) ? 1 : 0) == 1',
            message: 'exactly one of acme, ca or selfSigned must be set',
          },
        ],
      },
    ),
    status: obj('Written by the operator.', {
      conditions: conditionsSchema(
        'Ready: whether the issuer can sign, with the reason when it cannot (SecretNotFound, InvalidCA, RegistrationFailed, BadConfig, ...).',
      ),
      observedGeneration: int('metadata.generation the status was written for.'),
      acme: obj('The ACME account.', {
        uri: str('Account URL at the ACME server.'),
        lastRegisteredEmail: str('Email the account was last registered with.'),
      }),
    }),
  },
  { required: ['spec'] },
);

const { status: ready, reason: readyReason } = conditionColumns('Ready');
// Reason only with -o wide: the Ready column is what most lists need.
const reason: PrinterColumn = { ...readyReason, priority: 1 };
const common = { group: GROUP, version: VERSION, categories: ['chousei'] };

export const certificateCRD = customResourceDefinition({
  ...common,
  kind: 'Certificate',
  plural: 'certificates',
  shortNames: ['cert', 'certs'],
  schema: certificateSchema,
  printerColumns: [
    ready,
    { name: 'Secret', type: 'string', jsonPath: '.spec.secretName' },
    { name: 'Issuer', type: 'string', jsonPath: '.spec.issuerRef.name', priority: 1 },
    // A date column shows an age, and kubectl prints <invalid> for a time in the future.
    { name: 'Expires', type: 'string', jsonPath: '.status.notAfter' },
    reason,
    ageColumn,
  ],
});
export const issuerCRD = customResourceDefinition({
  ...common,
  kind: 'Issuer',
  plural: 'issuers',
  schema: issuerSchema,
  printerColumns: [ready, reason, ageColumn],
});
export const clusterIssuerCRD = customResourceDefinition({
  ...common,
  kind: 'ClusterIssuer',
  plural: 'clusterissuers',
  scope: 'Cluster',
  schema: issuerSchema,
  printerColumns: [ready, reason, ageColumn],
});

/**
 * Every CRD of the cert-operator, for installation (deploy/ is generated from these); the
 * DomainPolicy CRD is @chousei/dns's, shipped by the dns-operator's chart too.
 */
export const CRDS = [certificateCRD, issuerCRD, clusterIssuerCRD, domainPolicyCRD];
