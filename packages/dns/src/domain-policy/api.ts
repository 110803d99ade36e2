import {
  ageColumn,
  customResourceDefinition,
  type JSONSchemaProps,
  type KubeObject,
  type LabelSelector,
  labelSelectorSchema,
  resourceType,
} from '@chousei/runtime';

// DomainPolicy: which namespaces may claim which DNS names, read alike by the dns-operator
// (records) and the cert-operator (certificates from ClusterIssuers). One schema here; each
// operator's chart ships the CRD generated from it.

export const DOMAIN_POLICY_GROUP = 'policy.chousei.dev';
export const DOMAIN_POLICY_VERSION = 'v1alpha1';

/** One suffix the selected namespaces may claim names under. */
export interface DomainRule {
  /** A DNS name in lower case, without trailing dot or wildcard, e.g. `team-a.example.com`. */
  suffix: string;
  /** Wildcard names (`*.x.suffix`, `*.suffix`) under the suffix too. Default false. */
  wildcards?: boolean;
  /** The suffix's own name too (its apex). Default false. */
  apex?: boolean;
}

export interface DomainPolicySpec {
  /** Namespaces by name. */
  namespaces?: string[];
  /** Namespaces by their labels; `{}` selects every namespace. */
  namespaceSelector?: LabelSelector;
  domains: DomainRule[];
}

export interface DomainPolicy extends KubeObject {
  spec: DomainPolicySpec;
}

export const DomainPolicies = resourceType<DomainPolicy>(
  `${DOMAIN_POLICY_GROUP}/${DOMAIN_POLICY_VERSION}`,
  'DomainPolicy',
  'domainpolicies',
  false,
);

const LABEL = '[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?';
/** A lower-case DNS name: no wildcard, no trailing dot (names are compared in lower case). */
export const SUFFIX_PATTERN = `^(${LABEL}\\.)*${LABEL}$`;
const NAMESPACE_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const MAX_DOMAINS = 64;
const MAX_NAMESPACES = 256;

const domainSchema: JSONSchemaProps = {
  type: 'object',
  description: 'A suffix the selected namespaces may claim names under.',
  required: ['suffix'],
  properties: {
    suffix: {
      type: 'string',
      description:
        'A DNS name in lower case, without trailing dot or wildcard. Names strictly below it may be claimed, label by label: app.example.com is under example.com, evil-example.com is not.',
      minLength: 1,
      maxLength: 253,
      pattern: SUFFIX_PATTERN,
    },
    wildcards: {
      type: 'boolean',
      description:
        'Whether wildcard names below the suffix (*.example.com, *.app.example.com) may be claimed too. Default: false.',
    },
    apex: {
      type: 'boolean',
      description:
        'Whether the suffix itself (example.com, a zone apex when the suffix is a zone) may be claimed too. Default: false.',
    },
  },
};

/** The one schema of DomainPolicy, from which the CRD is built. */
export const domainPolicySchema: JSONSchemaProps = {
  type: 'object',
  description:
    'Which namespaces may claim which DNS names: records published by the dns-operator, certificates issued from ClusterIssuers by the cert-operator. Once one DomainPolicy exists, a name is allowed only where a policy allows it.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      description:
        'The namespaces (by name, by labels, or both: either selects) and the suffixes they may claim names under.',
      required: ['domains'],
      properties: {
        namespaces: {
          type: 'array',
          description: 'Namespaces by name.',
          maxItems: MAX_NAMESPACES,
          items: { type: 'string', maxLength: 63, pattern: NAMESPACE_PATTERN },
        },
        namespaceSelector: labelSelectorSchema(
          'Namespaces by their labels (matchLabels and matchExpressions all hold); {} selects every namespace.',
        ),
        domains: {
          type: 'array',
          description: 'The suffixes, each at most once.',
          minItems: 1,
          maxItems: MAX_DOMAINS,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['suffix'],
          items: domainSchema,
        },
      },
      'x-kubernetes-validations': [
        {
          rule: 'has(self.namespaces) || has(self.namespaceSelector)',
          message: 'namespaces or namespaceSelector (or both) must select the namespaces',
          reason: 'FieldValueRequired',
        },
      ],
    },
  },
};

export const domainPolicyCRD = customResourceDefinition({
  group: DOMAIN_POLICY_GROUP,
  version: DOMAIN_POLICY_VERSION,
  kind: 'DomainPolicy',
  plural: 'domainpolicies',
  scope: 'Cluster',
  shortNames: ['dompol'],
  categories: ['chousei'],
  schema: domainPolicySchema,
  printerColumns: [
    { name: 'Namespaces', type: 'string', jsonPath: '.spec.namespaces' },
    { name: 'Suffixes', type: 'string', jsonPath: '.spec.domains[*].suffix' },
    ageColumn,
  ],
});

/**
 * The CRDs of @chousei/dns: each operator lists them in its own `CRDS`, so either chart
 * installs them (Helm skips a CRD that exists: both charts install side by side).
 */
export const CRDS = [domainPolicyCRD];
