import { type Condition, type KubeObject, resourceType } from '@chousei/runtime';

// SecretMirror: one Secret of the SecretMirror's namespace, copied into every namespace a
// label selector picks, and kept in step. The TypeScript types, the resource type the
// runtime's client and cache take, and the CRD (whose schema the API server validates
// with) all live here, so they cannot drift apart.

export const GROUP = 'example.chousei.dev';
export const VERSION = 'v1alpha1';

/** metav1.LabelSelectorRequirement. */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** metav1.LabelSelector: every term must hold; `{}` selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface SecretMirrorSpec {
  /** The Secret to copy, in the SecretMirror's own namespace. */
  sourceRef: { name: string };
  /** The namespaces to copy into (never the SecretMirror's own); `{}` selects all. */
  namespaceSelector: LabelSelector;
}

export interface SecretMirrorStatus {
  /** The metadata.generation this status describes. */
  observedGeneration?: number;
  /** Namespaces holding this SecretMirror's copy, sorted. */
  mirroredTo?: string[];
  conditions?: Condition[];
}

export interface SecretMirror extends KubeObject {
  spec: SecretMirrorSpec;
  status?: SecretMirrorStatus;
}

export const SecretMirrors = resourceType<SecretMirror>(
  `${GROUP}/${VERSION}`,
  'SecretMirror',
  'secretmirrors',
  true,
);

/** The reasons of the Ready condition: what a user (or an alert) acts on. */
export const Reason = {
  /** Every selected namespace holds a copy of the current source. */
  Mirrored: 'Mirrored',
  /** The source Secret does not exist; copies already made are left in place. */
  SourceNotFound: 'SourceNotFound',
  /** A selected namespace has a Secret of that name this SecretMirror did not create. */
  Conflict: 'Conflict',
  /** Writing a copy failed; retried with backoff. */
  Failed: 'Failed',
} as const;

/** An OpenAPI v3 schema as a CRD holds it (x-kubernetes-* keys included). */
export interface JSONSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  description?: string;
  format?: string;
  properties?: Record<string, JSONSchema>;
  additionalProperties?: JSONSchema;
  required?: string[];
  items?: JSONSchema;
  enum?: readonly string[];
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; fieldPath?: string }>;
}

// CEL rules carry the messages users see from kubectl; OpenAPI keywords (maxLength,
// maxItems) bound the rules' cost, which the API server checks when the CRD is applied.
// A character class, not a backslash escape: CEL string literals take no \.
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const LABEL_VALUE = { type: 'string', maxLength: 63 } as const satisfies JSONSchema;

const labelSelectorSchema: JSONSchema = {
  type: 'object',
  description:
    'Namespaces whose labels match are mirrored into; {} selects every namespace. ' +
    "The SecretMirror's own namespace is never a target.",
  properties: {
    matchLabels: { type: 'object', maxProperties: 32, additionalProperties: LABEL_VALUE },
    matchExpressions: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1, maxLength: 317 },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', maxItems: 64, items: LABEL_VALUE },
        },
        'x-kubernetes-validations': [
          {
            rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
            message: 'values must be set for In and NotIn, and empty for Exists and DoesNotExist',
            fieldPath: '.values',
          },
        ],
      },
    },
  },
};

/** The one schema of SecretMirror, from which the CRD is built. */
export const secretMirrorSchema: JSONSchema = {
  type: 'object',
  description:
    'Copies a Secret into the namespaces a label selector picks, and keeps the copies in step.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['sourceRef', 'namespaceSelector'],
      properties: {
        sourceRef: {
          type: 'object',
          description: "The Secret to copy, in the SecretMirror's namespace.",
          required: ['name'],
          properties: {
            name: {
              type: 'string',
              maxLength: 253,
              'x-kubernetes-validations': [
                {
                  rule: `self.matches('${DNS_SUBDOMAIN}')`,
                  message:
                    "must be a Secret name: lower-case letters, digits, '-' and '.', " +
                    'starting and ending with a letter or digit (e.g. db-credentials)',
                },
              ],
            },
          },
        },
        namespaceSelector: labelSelectorSchema,
      },
    },
    status: {
      type: 'object',
      properties: {
        observedGeneration: { type: 'integer', format: 'int64' },
        mirroredTo: { type: 'array', items: { type: 'string' } },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: {
            type: 'object',
            required: ['type', 'status', 'reason', 'lastTransitionTime'],
            properties: {
              type: { type: 'string' },
              status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
              reason: { type: 'string' },
              message: { type: 'string' },
              observedGeneration: { type: 'integer', format: 'int64' },
              lastTransitionTime: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
  },
};

export const secretMirrorCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `secretmirrors.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: {
      plural: 'secretmirrors',
      singular: 'secretmirror',
      kind: 'SecretMirror',
      listKind: 'SecretMirrorList',
      shortNames: ['smirror'],
      categories: ['chousei'],
    },
    versions: [
      {
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Source', type: 'string', jsonPath: '.spec.sourceRef.name' },
          {
            name: 'Ready',
            type: 'string',
            jsonPath: '.status.conditions[?(@.type=="Ready")].status',
          },
          {
            name: 'Reason',
            type: 'string',
            jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
          },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema: secretMirrorSchema },
      },
    ],
  },
};

/** Every CRD this operator serves; the chart's crds/ are generated from it. */
export const CRDS = [secretMirrorCRD];
