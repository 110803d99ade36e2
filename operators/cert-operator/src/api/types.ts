import type { Condition, KubeObject, ParentReference } from '@chousei/runtime';
import { resourceType } from '@chousei/runtime';
import type { KeyAlgorithm, KeyUsage } from '../pki/index.js';

export const GROUP = 'cert.chousei.dev';
export const VERSION = 'v1alpha1';

export interface SecretKeySelector {
  name: string;
  /** Key within the Secret's data. */
  key?: string;
}

export interface IssuerRef {
  name: string;
  kind?: 'Issuer' | 'ClusterIssuer';
  group?: string;
}

export interface CertificateSpec {
  secretName: string;
  issuerRef: IssuerRef;
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Go duration, default 2160h (90 days). */
  duration?: string;
  /** Go duration; default a third of the issued lifetime. */
  renewBefore?: string;
  privateKey?: {
    algorithm?: KeyAlgorithm;
    size?: number;
    /** Always (default): a new key at every issuance; Never: keep the key. */
    rotationPolicy?: 'Always' | 'Never';
  };
  usages?: KeyUsage[];
  secretTemplate?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  /** Delete (default): the Secret goes with the Certificate; Retain: it stays. */
  secretDeletionPolicy?: 'Delete' | 'Retain';
  isCA?: boolean;
}

export interface CertificateStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  revision?: number;
  failedIssuanceAttempts?: number;
  lastFailureTime?: string;
  /** The ACME order in progress: a restart resumes it instead of ordering again. */
  acmeOrder?: { url: string };
  /** Secret holding the key of the issuance in progress (kept across restarts). */
  nextPrivateKeySecretName?: string;
}

export interface Certificate extends KubeObject {
  spec: CertificateSpec;
  status?: CertificateStatus;
}

export interface ACMESolver {
  selector?: { dnsNames?: string[]; dnsZones?: string[] };
  http01?: {
    ingress?: { ingressClassName?: string };
    /** A temporary HTTPRoute instead of an Ingress (cert-manager's gatewayHTTPRoute). */
    gatewayHTTPRoute?: { parentRefs?: ParentReference[]; labels?: Record<string, string> };
    /** Wait until the challenge URL answers before asking the CA to validate (default true). */
    selfCheck?: boolean;
  };
  dns01?: {
    rfc2136?: {
      nameserver: string;
      tsigKeyName?: string;
      tsigAlgorithm?: TsigAlgorithmName;
      tsigSecretSecretRef?: SecretKeySelector;
    };
    route53?: {
      region?: string;
      hostedZoneID?: string;
      accessKeyIDSecretRef?: SecretKeySelector;
      secretAccessKeySecretRef?: SecretKeySelector;
    };
    pdns?: {
      /** URL of the PowerDNS webserver, e.g. `http://pdns.dns:8081`. */
      server: string;
      /** The API's server id (default `localhost`). */
      serverID?: string;
      apiKeySecretRef: SecretKeySelector;
      /** HOST[:PORT] of its DNS service, for the self-check (default the zone's NS servers). */
      nameserver?: string;
      /** Base64 PEM of the CAs to trust for an https server. */
      caBundle?: string;
    };
    /** An external-dns webhook provider (e.g. a sidecar for Cloudflare). */
    webhook?: {
      /** Its URL, e.g. `http://localhost:8888`. */
      url: string;
      /** HOST[:PORT] the self-check asks (default the zone's NS servers). */
      nameserver?: string;
    };
    /** Wait until the zone's authoritative servers answer (default true). */
    selfCheck?: boolean;
    /** Follow: write the TXT where a CNAME at `_acme-challenge.NAME` leads. Default None. */
    cnameStrategy?: 'None' | 'Follow';
  };
}

export interface IssuerSpec {
  acme?: {
    server: string;
    email?: string;
    privateKeySecretRef: SecretKeySelector;
    externalAccountBinding?: { keyID: string; keySecretRef: SecretKeySelector };
    /** Base64 PEM of CAs to trust for the ACME server's TLS (private ACME servers). */
    caBundle?: string;
    solvers: ACMESolver[];
  };
  ca?: { secretName: string };
  selfSigned?: Record<string, never>;
}

export interface IssuerStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  acme?: { uri?: string; lastRegisteredEmail?: string };
}

export interface Issuer extends KubeObject {
  spec: IssuerSpec;
  status?: IssuerStatus;
}

export const Certificates = resourceType<Certificate>(
  `${GROUP}/${VERSION}`,
  'Certificate',
  'certificates',
  true,
);
export const Issuers = resourceType<Issuer>(`${GROUP}/${VERSION}`, 'Issuer', 'issuers', true);
export const ClusterIssuers = resourceType<Issuer>(
  `${GROUP}/${VERSION}`,
  'ClusterIssuer',
  'clusterissuers',
  false,
);

/** Labels and annotations the operator puts on what it writes. */
export const LABEL_MANAGED = `${GROUP}/managed`;
/** RFC2136 TSIG algorithms, as cert-manager names them (it knows MD5, SHA1, SHA256, SHA512). */
export const TSIG_ALGORITHM_NAMES = [
  'HMACMD5',
  'HMACSHA1',
  'HMACSHA224',
  'HMACSHA256',
  'HMACSHA384',
  'HMACSHA512',
] as const;
export type TsigAlgorithmName = (typeof TSIG_ALGORITHM_NAMES)[number];
/** cert-manager's default, kept so that an Issuer copied without the field signs alike. */
export const DEFAULT_TSIG_ALGORITHM: TsigAlgorithmName = 'HMACMD5';

export const ANNOTATION_CERTIFICATE = `${GROUP}/certificate-name`;
export const ANNOTATION_ISSUER = `${GROUP}/issuer-name`;
export const ANNOTATION_ISSUER_KIND = `${GROUP}/issuer-kind`;
export const ANNOTATION_ALT_NAMES = `${GROUP}/alt-names`;
export const ANNOTATION_IP_SANS = `${GROUP}/ip-sans`;
export const ANNOTATION_COMMON_NAME = `${GROUP}/common-name`;
