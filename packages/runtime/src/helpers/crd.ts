import type { Condition, ConditionStatus } from '../client/types.js';

/** A CEL rule of `x-kubernetes-validations`; `message` is what kubectl shows when it fails. */
export interface ValidationRule {
  rule: string;
  message: string;
  /** The child the failure is reported on, e.g. `.size`. */
  fieldPath?: string;
  reason?:
    | 'FieldValueInvalid'
    | 'FieldValueForbidden'
    | 'FieldValueRequired'
    | 'FieldValueDuplicate';
}

/**
 * An OpenAPI v3 schema in its wire form, as a CRD holds it: plain JSON keys, x-kubernetes-*
 * included (client-node's model renames and drops some, so CRDs are not built from it).
 */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  required?: readonly string[];
  items?: JSONSchemaProps;
  enum?: readonly (string | number)[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: readonly string[];
  'x-kubernetes-validations'?: readonly ValidationRule[];
}

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] satisfies ConditionStatus[];

// Keyed by Condition's own fields, so a field added there fails to compile until it is here.
const conditionProperties = {
  type: { type: 'string', description: 'Condition type, e.g. Ready.' },
  status: { type: 'string', description: 'True, False or Unknown.', enum: CONDITION_STATUSES },
  reason: { type: 'string', description: 'Why, in CamelCase.' },
  message: { type: 'string', description: 'Details for people; may be empty.' },
  observedGeneration: {
    type: 'integer',
    description: 'metadata.generation the condition was computed for.',
    format: 'int64',
  },
  lastTransitionTime: {
    type: 'string',
    description: 'When status last changed.',
    format: 'date-time',
  },
} satisfies Record<keyof Condition, JSONSchemaProps>;

// What setCondition always writes (message as '' when none is given): the required
// fields of metav1.Condition.
const conditionRequired = [
  'type',
  'status',
  'reason',
  'message',
  'lastTransitionTime',
] satisfies (keyof Condition)[];

/**
 * The schema of a status's `conditions`: a list of metav1.Condition with one entry per
 * type (a list-map, so server-side apply merges by type). `description` is what
 * `kubectl explain` shows for the list: say which types the operator sets.
 */
export function conditionsSchema(
  description = 'The latest observations of the state, one per condition type.',
): JSONSchemaProps {
  return {
    type: 'array',
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    items: {
      type: 'object',
      description: 'One condition.',
      properties: conditionProperties,
      required: conditionRequired,
    },
  };
}

/**
 * The schema of a metav1.LabelSelector (see `labelSelectorMatches`), with the checks the
 * API server makes of its own selectors: In and NotIn take values, Exists and DoesNotExist
 * none. Bounded, so CEL rules over it stay within the API server's cost budget.
 */
export function labelSelectorSchema(description: string): JSONSchemaProps {
  const label = (what: string, maxLength: number): JSONSchemaProps => ({
    type: 'string',
    description: what,
    maxLength,
  });
  return {
    type: 'object',
    description,
    properties: {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all be present with these values.',
        maxProperties: 32,
        additionalProperties: label('Label value.', 63),
      },
      matchExpressions: {
        type: 'array',
        description: 'Terms that must all hold.',
        maxItems: 32,
        items: {
          type: 'object',
          description: 'One term: a label key, an operator and values.',
          required: ['key', 'operator'],
          properties: {
            // A DNS-subdomain prefix, a slash and a 63-character name.
            key: { ...label('The label key.', 317), minLength: 1 },
            operator: {
              type: 'string',
              description: 'In, NotIn, Exists or DoesNotExist.',
              enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
            },
            values: {
              type: 'array',
              description: 'For In and NotIn: the values (not empty); none for the others.',
              maxItems: 64,
              items: label('A label value.', 63),
            },
          },
          'x-kubernetes-validations': [
            {
              rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
              message: 'values must be set for In and NotIn, and empty for Exists and DoesNotExist',
              fieldPath: '.values',
              reason: 'FieldValueInvalid',
            },
          ],
        },
      },
    },
  };
}

/** A column of `kubectl get`; priority 1 shows it only with `-o wide`. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** The Age column of every kind. */
export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};

/**
 * The status and reason of one condition as columns: `status` is named after the type
 * (e.g. Ready), `reason` is named Reason. Returned apart, as kinds place them apart.
 */
export function conditionColumns(type = 'Ready'): { status: PrinterColumn; reason: PrinterColumn } {
  const path = `.status.conditions[?(@.type=="${type}")]`;
  return {
    status: { name: type, type: 'string', jsonPath: `${path}.status` },
    reason: { name: 'Reason', type: 'string', jsonPath: `${path}.reason` },
  };
}

/**
 * An apiextensions.k8s.io/v1 CustomResourceDefinition in its wire form, as far as
 * customResourceDefinition fills it (the client's CustomResourceDefinition is client-node's
 * model, whose schema keys are renamed).
 */
export interface CustomResourceDefinitionManifest {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      plural: string;
      singular: string;
      kind: string;
      listKind: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }>;
  };
}

export interface CustomResourceDefinitionOptions {
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural, the resource's name in URLs (`kubectl get <plural>`). */
  plural: string;
  /** Default: Namespaced. */
  scope?: 'Namespaced' | 'Cluster';
  shortNames?: string[];
  /** Groups for `kubectl get <category>`, e.g. every kind of a project. */
  categories?: string[];
  /** The whole object's schema: apiVersion, kind, metadata, spec, status. */
  schema: JSONSchemaProps;
  printerColumns?: PrinterColumn[];
}

/**
 * The CRD of one kind with one version, served and stored, with the status subresource
 * (status is written through its own endpoint, and only spec changes bump
 * metadata.generation, which observedGeneration is compared with).
 * Empty lists are left out rather than written as `[]`: the API server drops them anyway.
 */
export function customResourceDefinition(
  opts: CustomResourceDefinitionOptions,
): CustomResourceDefinitionManifest {
  const { group, version, kind, plural, shortNames, categories, printerColumns } = opts;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: opts.scope ?? 'Namespaced',
      names: {
        plural,
        singular: kind.toLowerCase(),
        kind,
        listKind: `${kind}List`,
        ...(shortNames?.length ? { shortNames } : {}),
        ...(categories?.length ? { categories } : {}),
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          // Before the schema, so the columns show near the top of the YAML.
          ...(printerColumns?.length ? { additionalPrinterColumns: printerColumns } : {}),
          schema: { openAPIV3Schema: opts.schema },
        },
      ],
    },
  };
}
