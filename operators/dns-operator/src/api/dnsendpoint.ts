import { domainPolicyCRD } from '@chousei/dns';
import {
  ageColumn,
  customResourceDefinition,
  type JSONSchemaProps,
  type KubeObject,
  resourceType,
} from '@chousei/runtime';

// DNSEndpoint: records asked for directly, shaped like external-dns's
// externaldns.k8s.io/v1alpha1 DNSEndpoint so its manifests port by changing apiVersion.

/**
 * TTLs must fit a signed 32-bit integer (RFC 2181 §8) and be positive to mean anything.
 * The schema states these limits; sources/validate.ts holds annotations to the same.
 */
export const MIN_TTL = 1;
export const MAX_TTL = 2147483647;
export const MAX_NAME_LENGTH = 253;

export const DNS_ENDPOINT_GROUP = 'dns.chousei.dev';
export const DNS_ENDPOINT_VERSION = 'v1alpha1';

/** The record types a DNSEndpoint may ask for. */
export const DNS_ENDPOINT_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX'] as const;
export type DNSEndpointRecordType = (typeof DNS_ENDPOINT_RECORD_TYPES)[number];

export interface ProviderSpecificProperty {
  name: string;
  value: string;
}

/** One record set of a DNSEndpoint (external-dns's `endpoint.Endpoint`). */
export interface DNSEndpointRecord {
  dnsName: string;
  /**
   * Presentation form; SRV (`10 5 443 sip.example.com.`) and MX (`10 mail.example.com.`)
   * targets name absolute hosts, ending in a dot.
   */
  targets: string[];
  recordType: DNSEndpointRecordType;
  /** Seconds; unset means the operator's default TTL. */
  recordTTL?: number;
  setIdentifier?: string;
  labels?: Record<string, string>;
  providerSpecific?: ProviderSpecificProperty[];
}

export interface DNSEndpointSpec {
  endpoints?: DNSEndpointRecord[];
}

/** Whether one record set of the spec is published, and why not. */
export interface DNSEndpointRecordStatus {
  dnsName: string;
  recordType: string;
  published: boolean;
  /** CamelCase, e.g. `Published`, `Invalid`, `Conflict`. */
  reason: string;
  message?: string;
}

export interface DNSEndpointStatus {
  observedGeneration?: number;
  endpoints?: DNSEndpointRecordStatus[];
}

export interface DNSEndpoint extends KubeObject {
  spec: DNSEndpointSpec;
  status?: DNSEndpointStatus;
}

export const DNSEndpoints = resourceType<DNSEndpoint>(
  `${DNS_ENDPOINT_GROUP}/${DNS_ENDPOINT_VERSION}`,
  'DNSEndpoint',
  'dnsendpoints',
  true,
);

// The API server refuses a CRD whose CEL rules could cost too much in the worst case,
// which it estimates as endpoints x targets x target length: these bounds keep the
// address checks within budget while leaving room for what one object sensibly holds
// (a TXT value up to 1024 characters fits a 4096-bit DKIM key).
const MAX_ENDPOINTS = 256;
const MAX_TARGETS = 32;
const MAX_TARGET_LENGTH = 1024;

// RFC 1123 labels with underscores (`_sip._tcp`), an optional `*.` wildcard and an
// optional trailing dot; upper case is accepted because DNS names are case-insensitive.
const LABEL = '[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?';
const DNS_NAME_PATTERN = `^(\\*\\.)?(${LABEL}\\.)*${LABEL}\\.?$`;

/** Each rule applies to one record type; `t` ranges over the targets. */
function targetsRule(type: DNSEndpointRecordType, check: string, message: string) {
  return {
    rule: `self.recordType != '${type}' || self.targets.all(t, ${check})`,
    message,
    fieldPath: '.targets',
    reason: 'FieldValueInvalid' as const,
  };
}

const recordSchema: JSONSchemaProps = {
  type: 'object',
  description: 'One record set: a name, a type and its values.',
  required: ['dnsName', 'recordType', 'targets'],
  properties: {
    dnsName: {
      type: 'string',
      description: 'The record name, e.g. www.example.com or *.example.com.',
      // A trailing dot may come on top of the 253 characters of the name.
      maxLength: MAX_NAME_LENGTH + 1,
      pattern: DNS_NAME_PATTERN,
    },
    targets: {
      type: 'array',
      description:
        'Record values: addresses for A/AAAA, one name for CNAME, text for TXT, ' +
        '"priority weight port target." for SRV, "preference exchange." for MX.',
      minItems: 1,
      maxItems: MAX_TARGETS,
      items: { type: 'string', minLength: 1, maxLength: MAX_TARGET_LENGTH },
    },
    recordType: {
      type: 'string',
      description:
        "Record type; TXT, SRV and MX only when the operator's --managed-record-types lists them.",
      enum: DNS_ENDPOINT_RECORD_TYPES,
    },
    recordTTL: {
      type: 'integer',
      format: 'int64',
      description: "TTL in seconds. Default: the operator's --default-ttl (300).",
      minimum: MIN_TTL,
      maximum: MAX_TTL,
    },
    setIdentifier: {
      type: 'string',
      description: 'Accepted as external-dns has it; not used (no routing policies).',
      maxLength: 128,
    },
    labels: {
      type: 'object',
      description: 'Accepted as external-dns has it; not used.',
      additionalProperties: { type: 'string' },
    },
    providerSpecific: {
      type: 'array',
      description:
        'As external-dns has it. `alias` (for a CNAME, with Route53): `true` for an A and an AAAA alias record instead of the CNAME, `A` or `AAAA` for one of them, `false` for the CNAME whatever its target; unset: aliases for AWS targets unless --aws-prefer-cname. Other properties are accepted and not used.',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', description: 'Property name.' },
          value: { type: 'string', description: 'Property value.' },
        },
      },
    },
  },
  'x-kubernetes-validations': [
    {
      rule: "self.recordType != 'CNAME' || size(self.targets) == 1",
      message: 'a CNAME record takes exactly one target',
      fieldPath: '.targets',
      reason: 'FieldValueInvalid',
    },
    targetsRule('A', 'isIP(t) && ip(t).family() == 4', 'A targets must be IPv4 addresses'),
    targetsRule('AAAA', 'isIP(t) && ip(t).family() == 6', 'AAAA targets must be IPv6 addresses'),
    // Only the trailing dot is checked here: a regex over every target would cost more
    // than the budget allows; the operator reports the rest of the shape in the status.
    targetsRule(
      'SRV',
      "t.endsWith('.')",
      'SRV targets must be "priority weight port target." with the target an absolute name ' +
        'ending in a dot, e.g. "10 5 443 sip.example.com."',
    ),
    targetsRule(
      'MX',
      "t.endsWith('.')",
      'MX targets must be "preference exchange." with the exchange an absolute name ending ' +
        'in a dot, e.g. "10 mail.example.com."',
    ),
  ],
};

/** The one schema of DNSEndpoint, from which the CRD is built. */
export const dnsEndpointSchema: JSONSchemaProps = {
  type: 'object',
  description: 'DNS records to publish, as listed; the external-dns DNSEndpoint shape.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      description: 'The records to publish.',
      properties: {
        endpoints: {
          type: 'array',
          description:
            'Record sets; each name and type at most once. An invalid entry is left out and reported in the status, the others are published.',
          maxItems: MAX_ENDPOINTS,
          items: recordSchema,
        },
      },
    },
    status: {
      type: 'object',
      description: 'Written by the operator.',
      properties: {
        observedGeneration: {
          type: 'integer',
          format: 'int64',
          description: 'metadata.generation the status was written for.',
        },
        endpoints: {
          type: 'array',
          description: 'Where each spec endpoint stands, in the order of the spec.',
          maxItems: MAX_ENDPOINTS,
          items: {
            type: 'object',
            description: 'One spec endpoint.',
            required: ['dnsName', 'recordType', 'published', 'reason'],
            properties: {
              dnsName: { type: 'string', description: "The endpoint's dnsName." },
              recordType: { type: 'string', description: "The endpoint's recordType." },
              published: {
                type: 'boolean',
                description: 'Whether the records are at the provider.',
              },
              reason: {
                type: 'string',
                description:
                  'Published, Invalid, UnmanagedType (its recordType is not in --managed-record-types), Pending, NoZone, Conflict, Failed, NameTaken (another namespace holds the name) or DomainNotAllowed (no DomainPolicy allows it).',
              },
              message: { type: 'string', description: 'The records published, or why not.' },
            },
          },
        },
      },
    },
  },
};

export const dnsEndpointCRD = customResourceDefinition({
  group: DNS_ENDPOINT_GROUP,
  version: DNS_ENDPOINT_VERSION,
  kind: 'DNSEndpoint',
  plural: 'dnsendpoints',
  shortNames: ['dnsep'],
  categories: ['chousei'],
  schema: dnsEndpointSchema,
  printerColumns: [
    { name: 'DNS Name', type: 'string', jsonPath: '.spec.endpoints[0].dnsName' },
    { name: 'Type', type: 'string', jsonPath: '.spec.endpoints[0].recordType' },
    ageColumn,
  ],
});

/**
 * Every CRD the dns-operator reads; the Helm chart's crds/ are generated from it. The
 * DomainPolicy CRD is @chousei/dns's, shipped by the cert-operator's chart too.
 */
export const CRDS = [dnsEndpointCRD, domainPolicyCRD];
