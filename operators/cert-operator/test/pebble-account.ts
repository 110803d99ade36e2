// An ACME Issuer on Pebble, and a client on its account to see what Pebble holds: for the
// tests that check an issuance placed exactly one order. Not a suite.
import { type Client, Secrets } from '@chousei/runtime';
import { waitForCondition } from '@chousei/runtime/testing';
import type { Pebble } from '@chousei/testenv';
import * as acme from 'acme-client';
import { type ACMESolver, Issuers } from '../src/api/types.js';
import { secretValue } from '../src/controllers/secret.js';

/**
 * An ACME Issuer answering with `solvers` (default HTTP-01 through an Ingress) with an account
 * of its own, Ready; a client on that account.
 */
export async function pebbleIssuer(
  client: Client,
  pebble: Pebble,
  namespace: string,
  name: string,
  solvers: ACMESolver[] = [{ http01: {} }],
): Promise<acme.Client> {
  const keySecret = `${name}-account`;
  await client.create(Issuers, {
    metadata: { name, namespace },
    spec: {
      acme: {
        server: pebble.directoryUrl,
        privateKeySecretRef: { name: keySecret },
        caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
        solvers,
      },
    },
  });
  const issuer = await waitForCondition(client, Issuers, { namespace, name }, 'Ready', {
    timeoutMs: 20_000,
  });
  const key = await client.get(Secrets, { namespace, name: keySecret });
  return new acme.Client({
    directoryUrl: pebble.directoryUrl,
    accountKey: secretValue(key, 'tls.key') ?? '',
    accountUrl: issuer.status!.acme!.uri!,
  });
}

/** Every order Pebble holds for the account (RFC 8555 7.1.2.1). */
export async function ordersOf(account: acme.Client): Promise<unknown> {
  const { orders } = await account.updateAccount({});
  // The list is fetched by POST-as-GET, as an order is.
  const list: object = await account.getOrder({ url: orders } as acme.Order);
  return 'orders' in list ? list.orders : undefined;
}
