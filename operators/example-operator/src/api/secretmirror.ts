import {
  ageColumn,
  type Condition,
  conditionColumns,
  conditionsSchema,
  customResourceDefinition,
  type JSONSchemaProps,
  type KubeObject,
  type LabelSelector,
  labelSelectorSchema,
  resourceType,
} from '@chousei/runtime';

// SecretMirror: one Secret of the SecretMirror's namespace, copied into every namespace a
// label selector picks, and kept in step. The TypeScript types, the resource type the
// runtime's client and cache take, and the CRD (whose schema the API server validates
// with) all live here, so they cannot drift apart.

export const GROUP = 'example.chousei.dev';
export const VERSION = 'v1alpha1';

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

// CEL rules carry the messages users see from kubectl; OpenAPI keywords (maxLength,
// maxItems) bound the rules' cost, which the API server checks when the CRD is applied.
// A character class, not a backslash escape: CEL string literals take no \.
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** The one schema of SecretMirror, from which the CRD is built. */
export const secretMirrorSchema: JSONSchemaProps = {
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
        // The runtime's, with the API server's own checks (In and NotIn take values).
        namespaceSelector: labelSelectorSchema(
          'Namespaces whose labels match are mirrored into; {} selects every namespace. ' +
            "The SecretMirror's own namespace is never a target.",
        ),
      },
    },
    status: {
      type: 'object',
      properties: {
        observedGeneration: { type: 'integer', format: 'int64' },
        mirroredTo: { type: 'array', items: { type: 'string' } },
        conditions: conditionsSchema(
          'Ready: whether every selected namespace holds a current copy, with the reason (Mirrored, SourceNotFound, Conflict, Failed).',
        ),
      },
    },
  },
};

const { status: ready, reason } = conditionColumns('Ready');

export const secretMirrorCRD = customResourceDefinition({
  group: GROUP,
  version: VERSION,
  kind: 'SecretMirror',
  plural: 'secretmirrors',
  shortNames: ['smirror'],
  categories: ['chousei'],
  schema: secretMirrorSchema,
  printerColumns: [
    { name: 'Source', type: 'string', jsonPath: '.spec.sourceRef.name' },
    ready,
    reason,
    ageColumn,
  ],
});

/** Every CRD this operator serves; the chart's crds/ are generated from it. */
export const CRDS = [secretMirrorCRD];
