import { KEY_USAGES } from '../issuers/issuer.js';
import { DURATION_PATTERN } from './duration.js';
import { GROUP, VERSION } from './types.js';

/** An OpenAPI v3 schema node as the API server reads it (x-kubernetes-* keys kept). */
export type Schema = { [key: string]: unknown };

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const strList = (item: Schema = {}, extra: Schema = {}): Schema => ({
  type: 'array',
  items: str(item),
  ...extra,
});
const obj = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...extra,
});
const secretRef = obj({ name: str({ minLength: 1 }), key: str() }, { required: ['name'] });

const conditions: Schema = {
  type: 'array',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: obj(
    {
      type: str(),
      status: str({ enum: ['True', 'False', 'Unknown'] }),
      reason: str(),
      message: str(),
      observedGeneration: { type: 'integer' },
      lastTransitionTime: str({ format: 'date-time' }),
    },
    { required: ['type', 'status'] },
  ),
};

const DNS_NAME = '^(\\*\\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const USAGES: readonly string[] = KEY_USAGES;

export const certificateSchema: Schema = obj(
  {
    spec: obj(
      {
        secretName: str({ minLength: 1, maxLength: 253 }),
        issuerRef: obj(
          {
            name: str({ minLength: 1 }),
            kind: str({ enum: ['Issuer', 'ClusterIssuer'] }),
            group: str(),
          },
          { required: ['name'] },
        ),
        commonName: str({ maxLength: 64 }),
        dnsNames: strList({ pattern: DNS_NAME, maxLength: 253 }, { maxItems: 100 }),
        ipAddresses: strList({ maxLength: 45 }, { maxItems: 100 }),
        duration: str({ pattern: DURATION_PATTERN }),
        renewBefore: str({ pattern: DURATION_PATTERN }),
        privateKey: obj(
          {
            algorithm: str({ enum: ['ECDSA', 'RSA', 'Ed25519'] }),
            size: { type: 'integer', enum: [256, 384, 2048, 3072, 4096] },
            rotationPolicy: str({ enum: ['Always', 'Never'] }),
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
        usages: strList({ enum: USAGES }, { maxItems: 6 }),
        secretTemplate: obj({
          labels: { type: 'object', additionalProperties: str() },
          annotations: { type: 'object', additionalProperties: str() },
        }),
        secretDeletionPolicy: str({ enum: ['Delete', 'Retain'] }),
        isCA: { type: 'boolean' },
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
    status: obj({
      conditions,
      observedGeneration: { type: 'integer' },
      notBefore: str({ format: 'date-time' }),
      notAfter: str({ format: 'date-time' }),
      renewalTime: str({ format: 'date-time' }),
      revision: { type: 'integer' },
      failedIssuanceAttempts: { type: 'integer' },
      lastFailureTime: str({ format: 'date-time' }),
      acmeOrder: obj({ url: str() }),
      nextPrivateKeySecretName: str(),
    }),
  },
  { required: ['spec'] },
);

const solver = obj({
  selector: obj({
    dnsNames: strList({}, { maxItems: 100 }),
    dnsZones: strList({}, { maxItems: 100 }),
  }),
  http01: obj({ ingress: obj({ ingressClassName: str() }) }),
  dns01: obj({
    rfc2136: obj(
      {
        nameserver: str({ minLength: 1 }),
        tsigKeyName: str(),
        tsigAlgorithm: str({ enum: ['HMACSHA256', 'HMACSHA384', 'HMACSHA512'] }),
        tsigSecretSecretRef: secretRef,
      },
      { required: ['nameserver'] },
    ),
    route53: obj({
      region: str(),
      hostedZoneID: str(),
      accessKeyIDSecretRef: secretRef,
      secretAccessKeySecretRef: secretRef,
    }),
    selfCheck: { type: 'boolean' },
  }),
});

export const issuerSchema: Schema = obj(
  {
    spec: obj(
      {
        acme: obj(
          {
            server: str({ pattern: '^https://' }),
            email: str(),
            privateKeySecretRef: secretRef,
            externalAccountBinding: obj(
              { keyID: str({ minLength: 1 }), keySecretRef: secretRef },
              { required: ['keyID', 'keySecretRef'] },
            ),
            caBundle: str(),
            solvers: { type: 'array', items: solver, minItems: 1, maxItems: 20 },
          },
          { required: ['server', 'privateKeySecretRef', 'solvers'] },
        ),
        ca: obj({ secretName: str({ minLength: 1 }) }, { required: ['secretName'] }),
        selfSigned: obj({}),
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
    status: obj({
      conditions,
      observedGeneration: { type: 'integer' },
      acme: obj({ uri: str(), lastRegisteredEmail: str() }),
    }),
  },
  { required: ['spec'] },
);

function crd(
  kind: string,
  plural: string,
  scope: 'Namespaced' | 'Cluster',
  schema: Schema,
  columns: Schema[],
  shortNames: string[],
) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope,
      names: {
        kind,
        plural,
        singular: kind.toLowerCase(),
        listKind: `${kind}List`,
        shortNames,
        categories: ['chousei'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: schema },
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

const ready = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
const reason = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  priority: 1,
};
const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const certificateCRD = crd(
  'Certificate',
  'certificates',
  'Namespaced',
  certificateSchema,
  [
    ready,
    { name: 'Secret', type: 'string', jsonPath: '.spec.secretName' },
    { name: 'Issuer', type: 'string', jsonPath: '.spec.issuerRef.name', priority: 1 },
    { name: 'Expires', type: 'date', jsonPath: '.status.notAfter' },
    reason,
    age,
  ],
  ['cert', 'certs'],
);
export const issuerCRD = crd(
  'Issuer',
  'issuers',
  'Namespaced',
  issuerSchema,
  [ready, reason, age],
  [],
);
export const clusterIssuerCRD = crd(
  'ClusterIssuer',
  'clusterissuers',
  'Cluster',
  issuerSchema,
  [ready, reason, age],
  [],
);

/** Every CRD of the cert-operator, for installation (deploy/ is generated from these). */
export const CRDS = [certificateCRD, issuerCRD, clusterIssuerCRD];
