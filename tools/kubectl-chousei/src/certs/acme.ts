// The ACME order a Certificate is waiting on, read from the ACME server with the issuer's
// account key (orders are only readable by their account: POST-as-GET, RFC 8555 6.3).
import { type Issuer, registerACMEServer, secretValue } from '@chousei/cert-operator';
import { ForbiddenError, isNotFound, Secrets } from '@chousei/runtime';
import * as acme from 'acme-client';
import type { Kube } from '../cli.js';

export interface ChallengeDetails {
  type: string;
  status: string;
  url: string;
  validated?: string;
  error?: string;
}

export interface AuthorizationDetails {
  /** `*.example.com` for a wildcard. */
  identifier: string;
  status: string;
  expires?: string;
  challenges: ChallengeDetails[];
}

export interface OrderDetails {
  url: string;
  status: string;
  expires?: string;
  error?: string;
  authorizations: AuthorizationDetails[];
}

/**
 * Reads the order and its authorizations. Throws an Error whose message says why they
 * cannot be read (not an ACME issuer, account key unreadable, server unreachable, ...).
 */
export async function fetchOrder(
  kube: Kube,
  issuer: { kind: 'Issuer' | 'ClusterIssuer'; resource: Issuer },
  orderUrl: string,
  clusterResourceNamespace: string,
  timeoutMs: number,
): Promise<OrderDetails> {
  const spec = issuer.resource.spec.acme;
  const name = `${issuer.kind} ${issuer.resource.metadata?.name}`;
  if (!spec) throw new Error(`${name} is not an ACME issuer`);
  // ClusterIssuers keep their Secrets in the operator's cluster resource namespace.
  const namespace =
    issuer.kind === 'ClusterIssuer'
      ? clusterResourceNamespace
      : (issuer.resource.metadata?.namespace ?? '');
  const ref = spec.privateKeySecretRef;
  const where = `the ACME account key Secret ${namespace}/${ref.name}`;
  const secret = await kube.client
    .get(Secrets, { namespace, name: ref.name })
    .catch((err: unknown) => {
      if (isNotFound(err)) throw new Error(`${where} not found`);
      if (err instanceof ForbiddenError) throw new Error(`you may not read ${where}`);
      throw err;
    });
  const keyName = ref.key ?? 'tls.key';
  const accountKey = secretValue(secret, keyName);
  if (!accountKey) throw new Error(`${where} has no key "${keyName}"`);

  registerACMEServer(
    spec.server,
    spec.caBundle ? Buffer.from(spec.caBundle, 'base64').toString('utf8') : undefined,
  );
  const accountUrl = issuer.resource.status?.acme?.uri;
  const client = new acme.Client({
    directoryUrl: spec.server,
    accountKey,
    ...(accountUrl ? { accountUrl } : {}),
  });
  const read = async (): Promise<OrderDetails> => {
    // Without a recorded account URL, ask the server which account the key has.
    if (!accountUrl) await client.createAccount({ onlyReturnExisting: true });
    const order = await client.getOrder({
      url: orderUrl,
      status: 'pending',
      identifiers: [],
      authorizations: [],
      finalize: '',
    });
    const authorizations = await client.getAuthorizations(order);
    return {
      url: orderUrl,
      status: order.status,
      ...(order.expires ? { expires: order.expires } : {}),
      ...(order.error ? { error: problem(order.error) } : {}),
      authorizations: authorizations.map((a) => ({
        identifier: a.wildcard ? `*.${a.identifier.value}` : a.identifier.value,
        status: a.status,
        ...(a.expires ? { expires: a.expires } : {}),
        challenges: a.challenges.map((c) => ({
          type: c.type,
          status: c.status,
          url: c.url,
          ...(c.validated ? { validated: c.validated } : {}),
          ...(c.error ? { error: problem(c.error) } : {}),
        })),
      })),
    };
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from ${spec.server} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([read(), timeout]);
  } catch (err) {
    throw new Error(`reading ${orderUrl} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** `detail (type)` of an ACME problem document. */
function problem(doc: object): string {
  const { type, detail } = doc as { type?: unknown; detail?: unknown };
  const kind = typeof type === 'string' ? type.replace('urn:ietf:params:acme:error:', '') : '';
  const text = typeof detail === 'string' ? detail : '';
  return [text, kind && `(${kind})`].filter(Boolean).join(' ') || JSON.stringify(doc);
}
