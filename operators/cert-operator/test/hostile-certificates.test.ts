// Issue 10, findings 6–11, on the real API server: a Certificate writes and deletes only the
// Secrets that are the operator's (or handed to it), one Secret serves one Certificate, and
// the webhook's bounds hold in the controller. The operator runs without its webhook, as with
// the chart's webhook.enabled=false or during an outage of it.
import { Client, Events, type Secret, Secrets } from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import {
  ANNOTATION_CERTIFICATE,
  type Certificate,
  type CertificateSpec,
  Certificates,
  Issuers,
  LABEL_MANAGED,
} from '../src/api/types.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  signCertificate,
} from '../src/pki/index.js';
import { validateCertificate } from '../src/webhook/validation.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

let client: Client;
let ns: string;
let running: RunningManager;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply(CRDS);
  ns = await cluster.createNamespace('hostile-certs');
  client = new Client(cluster.kubeConfig);
  ({ running } = await startCertOperator({
    clusterResourceNamespace: ns,
    http01SolverPort: 0,
    http01SolverHost: '127.0.0.1',
    // A failure would be retried within a second: a loop would show.
    backoff: { initialMs: 1000, maxMs: 4000 },
  }));
  await client.create(Issuers, {
    metadata: { name: 'self', namespace: ns },
    spec: { selfSigned: {} },
  });
});
afterAll(() => running?.stop());

const certificate = (name: string, spec: Partial<CertificateSpec>) =>
  client.create(Certificates, {
    metadata: { name, namespace: ns },
    spec: {
      secretName: `${name}-tls`,
      issuerRef: { name: 'self' },
      dnsNames: [`${name}.example.test`],
      ...spec,
    },
  });
const get = (name: string) => client.get(Certificates, { namespace: ns, name });
const secret = (name: string) =>
  client.get(Secrets, { namespace: ns, name }).catch(() => undefined);
const ready = (c: Certificate) => c.status?.conditions?.find((x) => x.type === 'Ready');
/** The Certificate once Ready=False with `reason`; on timeout, the Ready condition it had. */
const refused = (name: string, reason: string) =>
  waitFor(
    async () => {
      const c = await get(name);
      const r = ready(c);
      if (r?.status === 'False' && r.reason === reason) return c;
      throw new Error(r ? `Ready=${r.status} ${r.reason}: ${r.message}` : 'no Ready condition');
    },
    { description: `Certificate ${name} Ready=False ${reason}` },
  );
const issued = (name: string) =>
  waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready');
const events = async (name: string) =>
  (await client.list(Events, { namespace: ns })).filter((e) => e.regarding?.name === name);
/** The Warning Event `reason` on the Certificate, once recorded. */
const warning = (name: string, reason: string) =>
  waitFor(async () =>
    (await events(name)).find((e) => e.reason === reason && e.type === 'Warning'),
  );
/** Holds for `ms` that the Certificate is not written again: no attempt, no status change. */
const untouched = async (name: string, ms: number) => {
  const before = (await get(name)).metadata?.resourceVersion;
  await new Promise((r) => setTimeout(r, ms));
  expect((await get(name)).metadata?.resourceVersion).toBe(before);
};

/** A TLS Secret made by hand (not by the operator) for `host`. */
async function handMade(name: string, host: string, annotations?: Record<string, string>) {
  const key = generatePrivateKey({ algorithm: 'ECDSA', size: 256 });
  const crt = signCertificate({
    csrPem: createCsr({ privateKeyPem: key, dnsNames: [host], ipAddresses: [] }),
    issuerKeyPem: key,
    durationMs: 86_400_000,
    usages: [],
    selfSigned: true,
  });
  return client.create(Secrets, {
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': crt, 'tls.key': key },
  });
}
const serial = (s: Secret | undefined) => inspectCertificate(secretText(s, 'tls.crt')).serialNumber;

describe('the Secrets a Certificate may write', () => {
  it('finding 6: a TLS Secret the operator never made is neither overwritten nor deleted', async () => {
    const mine = await handMade('mine-tls', 'mine.example.test');
    await certificate('takes-mine', { secretName: 'mine-tls' });
    const cert = await refused('takes-mine', 'SecretNotOwned');
    expect(ready(cert)?.message).toBe(
      `Secret mine-tls exists and is not this operator's (no label ${LABEL_MANAGED}): annotate it ${ANNOTATION_CERTIFICATE}=takes-mine to hand it to this Certificate, or name another Secret`,
    );
    expect((await warning('takes-mine', 'SecretNotOwned')).note).toBe(ready(cert)?.message);
    expect((await secret('mine-tls'))?.data).toEqual(mine.data);

    // Deleting the Certificate (secretDeletionPolicy Delete, the default) leaves it too.
    await client.delete(Certificates, { namespace: ns, name: 'takes-mine' });
    await waitFor(() =>
      get('takes-mine').then(
        () => false,
        () => true,
      ),
    );
    const after = await secret('mine-tls');
    expect(after?.data).toEqual(mine.data);
    expect(after?.metadata?.labels?.[LABEL_MANAGED]).toBeUndefined();
  });

  it('takes over a Secret handed to it by annotation: its own, or what cert-manager wrote for a Certificate of its name', async () => {
    const handed = await handMade('handed-tls', 'handed.example.test', {
      [ANNOTATION_CERTIFICATE]: 'handed',
    });
    const migrated = await handMade('migrated-tls', 'migrated.example.test', {
      'cert-manager.io/certificate-name': 'migrated',
    });
    const other = await handMade('late-tls', 'late.example.test', {
      'cert-manager.io/certificate-name': 'someone-else',
    });
    await certificate('handed', {});
    await certificate('migrated', {});
    await certificate('late', {});
    for (const [name, before] of [
      ['handed', handed],
      ['migrated', migrated],
    ] as const) {
      await issued(name);
      const s = await secret(`${name}-tls`);
      expect(s?.metadata?.labels?.[LABEL_MANAGED]).toBe('true');
      expect(s?.metadata?.annotations?.[ANNOTATION_CERTIFICATE]).toBe(name);
      expect(serial(s)).not.toBe(serial(before));
    }
    // cert-manager's annotation for another Certificate hands nothing over.
    await refused('late', 'SecretNotOwned');
    expect((await secret('late-tls'))?.data).toEqual(other.data);

    // Handed over later: seen at the next look, here brought on by an edit of the Certificate.
    await client.patch(
      Secrets,
      { namespace: ns, name: 'late-tls' },
      { type: 'merge', patch: { metadata: { annotations: { [ANNOTATION_CERTIFICATE]: 'late' } } } },
    );
    await client.patch(
      Certificates,
      { namespace: ns, name: 'late' },
      { type: 'merge', patch: { metadata: { annotations: { 'example.com/poke': '1' } } } },
    );
    await issued('late');
    expect(serial(await secret('late-tls'))).not.toBe(serial(other));
  });

  it('finding 7: of two Certificates naming one Secret the oldest keeps it; deleting the other leaves it', async () => {
    // Created back to back: both are Ready=True at 480f83f, overwriting each other.
    await certificate('first', { secretName: 'shared-tls' });
    await certificate('second', { secretName: 'shared-tls' });
    await issued('first');
    const loser = await refused('second', 'SecretInUse');
    expect(ready(loser)?.message).toBe(
      'Secret shared-tls is kept by Certificate first, the oldest Certificate naming it; name another Secret, or delete Certificate first',
    );
    expect((await warning('second', 'SecretInUse')).note).toBe(ready(loser)?.message);
    const kept = await secret('shared-tls');
    expect(kept?.metadata?.annotations?.[ANNOTATION_CERTIFICATE]).toBe('first');
    expect(inspectCertificate(secretText(kept, 'tls.crt')).dnsNames).toEqual([
      'first.example.test',
    ]);

    await client.delete(Certificates, { namespace: ns, name: 'second' });
    await waitFor(() =>
      get('second').then(
        () => false,
        () => true,
      ),
    );
    expect(serial(await secret('shared-tls'))).toBe(serial(kept));
    expect(ready(await get('first'))?.status).toBe('True');

    // A newcomer waits its turn: once the holder is gone (its Secret with it), it issues.
    await certificate('third', { secretName: 'shared-tls' });
    await refused('third', 'SecretInUse');
    await client.delete(Certificates, { namespace: ns, name: 'first' });
    await issued('third');
    const taken = await secret('shared-tls');
    expect(taken?.metadata?.annotations?.[ANNOTATION_CERTIFICATE]).toBe('third');
    expect(inspectCertificate(secretText(taken, 'tls.crt')).dnsNames).toEqual([
      'third.example.test',
    ]);
  });

  it('finding 8: a non-TLS Secret in the way is named with its type, and no certificate is made again and again', async () => {
    const opaque = await client.create(Secrets, {
      metadata: { name: 'settings', namespace: ns },
      stringData: { 'config.yaml': 'a: b' },
    });
    await certificate('into-opaque', { secretName: 'settings' });
    const cert = await refused('into-opaque', 'SecretTypeMismatch');
    const message =
      'Secret settings is of type Opaque, not kubernetes.io/tls: nothing is issued into it; name another Secret';
    expect(ready(cert)?.message).toBe(message);
    expect((await warning('into-opaque', 'SecretTypeMismatch')).note).toBe(message);
    const notes = await events('into-opaque');
    // Nothing says the Secret does not exist; nothing was issued into it.
    expect(notes.map((e) => e.note).join('\n')).not.toMatch(/does not exist/);
    expect(notes.some((e) => e.reason === 'Issued')).toBe(false);
    expect(cert.status?.revision).toBeUndefined();
    expect(cert.status?.failedIssuanceAttempts).toBeUndefined();
    const after = await secret('settings');
    expect(after?.type).toBe('Opaque');
    expect(after?.data).toEqual(opaque.data);
    // With a 1 s backoff, 480f83f ordered and threw away a certificate every few seconds.
    await untouched('into-opaque', 3000);
  });
});

describe('bounds without the webhook', () => {
  /** The refusal names each field as the webhook's rules (the same function) do. */
  const refusedAsTheWebhook = async (name: string, fields: string[]) => {
    const cert = await refused(name, 'InvalidSpec');
    const errors = validateCertificate(cert).errors;
    expect(errors.map((e) => e.field)).toEqual(fields);
    expect(ready(cert)?.message).toBe(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    expect(await secret(cert.spec.secretName)).toBeUndefined();
    expect((await warning(name, 'InvalidSpec')).note).toBe(ready(cert)?.message);
    return cert;
  };

  it('finding 9: duration 1s with renewBefore 1ms is refused by the controller and never issued', async () => {
    await certificate('blink', { duration: '1s', renewBefore: '1ms' });
    const cert = await refusedAsTheWebhook('blink', ['spec.duration', 'spec.renewBefore']);
    expect(ready(cert)?.message).toBe(
      'spec.duration: 1s is shorter than the minimum certificate duration, 1h; spec.renewBefore: 1ms is shorter than the minimum, 5m',
    );
    // 480f83f issued about 45 times a second.
    await untouched('blink', 2000);
    expect(await secret('blink-tls')).toBeUndefined();
    expect((await events('blink')).some((e) => e.reason === 'Issuing')).toBe(false);
  });

  it('finding 10: an IP address or a 64-character label in dnsNames is refused by the webhook rules and the controller', async () => {
    const label = 'a'.repeat(64);
    await certificate('odd-names', { dnsNames: ['192.0.2.10', `${label}.example.test`] });
    const cert = await refusedAsTheWebhook('odd-names', ['spec.dnsNames[0]', 'spec.dnsNames[1]']);
    expect(ready(cert)?.message).toBe(
      `spec.dnsNames[0]: "192.0.2.10" is an IP address: list it in spec.ipAddresses; spec.dnsNames[1]: "${label}.example.test": the label "${label}" has 64 characters; at most 63`,
    );
    // 63 characters is a label.
    await client.patch(
      Certificates,
      { namespace: ns, name: 'odd-names' },
      { type: 'merge', patch: { spec: { dnsNames: [`${label.slice(1)}.example.test`] } } },
    );
    await issued('odd-names');
  });

  it("finding 11: an issuerRef group other than the operator's is refused by the controller and never issued", async () => {
    await certificate('evil-group', { issuerRef: { name: 'self', group: 'evil.example' } });
    const cert = await refusedAsTheWebhook('evil-group', ['spec.issuerRef.group']);
    expect(ready(cert)?.message).toMatch(
      /^spec\.issuerRef\.group: "evil\.example" is not an issuer group this operator serves/,
    );
    await client.patch(
      Certificates,
      { namespace: ns, name: 'evil-group' },
      { type: 'merge', patch: { spec: { issuerRef: { name: 'self', group: 'cert-manager.io' } } } },
    );
    await issued('evil-group');
  });
});
