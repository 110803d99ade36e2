// The CRD's validation, as users meet it: the API server refuses a bad SecretMirror with a
// message naming the field and saying what is expected.
import { ApiError, Client } from '@chousei/runtime';
import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRDS, type SecretMirror, SecretMirrors } from '../src/api/secretmirror.js';

let client: Client;
let namespace: string;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply(CRDS);
  namespace = await cluster.createNamespace('api');
  client = new Client(cluster.kubeConfig);
});

/** The API server's answer to creating a SecretMirror with `spec` (a dry run: nothing stays). */
const create = (spec: unknown) =>
  client
    .create(SecretMirrors, { metadata: { name: 'm', namespace }, spec } as SecretMirror, {
      dryRun: 'All',
    })
    .then(
      () => 'accepted',
      (err: unknown) => {
        if (err instanceof ApiError && err.code === 422) return err.message;
        throw err;
      },
    );

describe('SecretMirror CRD', () => {
  it('accepts a selector by labels, by expressions, or {} for every namespace', async () => {
    const sourceRef = { name: 'db-credentials' };
    expect(await create({ sourceRef, namespaceSelector: { matchLabels: { team: 'web' } } })).toBe(
      'accepted',
    );
    const matchExpressions = [
      { key: 'team', operator: 'In', values: ['web', 'api'] },
      { key: 'sandbox', operator: 'DoesNotExist' },
    ];
    expect(await create({ sourceRef, namespaceSelector: { matchExpressions } })).toBe('accepted');
    expect(await create({ sourceRef, namespaceSelector: {} })).toBe('accepted');
  });

  it('requires the source and the selector', async () => {
    const message = await create({ sourceRef: {} });
    expect(message).toContain('spec.sourceRef.name: Required value');
    expect(message).toContain('spec.namespaceSelector: Required value');
  });

  it('says what a Secret name looks like', async () => {
    expect(await create({ sourceRef: { name: 'DB_Creds' }, namespaceSelector: {} })).toContain(
      "spec.sourceRef.name: Invalid value: \"string\": must be a Secret name: lower-case letters, digits, '-' and '.'",
    );
  });

  it('says which operators take values', async () => {
    const message = await create({
      sourceRef: { name: 'db' },
      namespaceSelector: {
        matchExpressions: [
          { key: 'team', operator: 'In' },
          { key: 'sandbox', operator: 'Exists', values: ['yes'] },
        ],
      },
    });
    const expected = 'values must be set for In and NotIn, and empty for Exists and DoesNotExist';
    expect(message).toContain(`spec.namespaceSelector.matchExpressions[0].values: Invalid value`);
    expect(message).toContain(`spec.namespaceSelector.matchExpressions[1].values: Invalid value`);
    expect(message).toContain(expected);
    expect(
      await create({
        sourceRef: { name: 'db' },
        namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'Equals' }] },
      }),
    ).toContain(
      'spec.namespaceSelector.matchExpressions[0].operator: Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    );
  });
});
