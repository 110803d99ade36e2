/**
 * The validating webhook's serving certificate, managed by the operator itself: a CA and a
 * leaf for the webhook Service, kept in one Secret the replicas share, written where the
 * webhook server reads it, and handed to the API server as the caBundle of the
 * ValidatingWebhookConfiguration. Runs on every replica, as the webhooks do.
 */
import { mkdtempSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  backoffDelay,
  type Client,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type JsonPatchOperation,
  type KubeObject,
  type Logger,
  type ResourceType,
  type Secret,
  Secrets,
  sleep,
  type ValidatingWebhookConfiguration,
  ValidatingWebhookConfigurations,
  Watcher,
  whenAborted,
} from '@chousei/runtime';
import {
  createCsr,
  defaultRenewalTime,
  generatePrivateKey,
  inspectCertificate,
  keyMatchesCertificate,
  signCertificate,
  verifyChain,
} from '../pki/index.js';

const DAY_MS = 86_400_000;
export const WEBHOOK_CA_LIFETIME_MS = 3650 * DAY_MS;
export const WEBHOOK_LEAF_LIFETIME_MS = 365 * DAY_MS;
export const DEFAULT_SERVING_CERT_CHECK_MS = 12 * 3_600_000;
const CA_COMMON_NAME = 'chousei-cert-operator webhook CA';
/** Prefix of the version directories the `..data` symlink points to. */
const VERSION_PREFIX = '..cert-';

/** The Secret's keys: the CA with its key (to sign the next leaf) and the serving pair. */
export const SERVING_CERT_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;

export type ServingKeyPair = Record<keyof typeof SERVING_CERT_KEYS, string>;

export interface ServingCertOptions {
  client: Client;
  /** Namespace of the Secret and of the webhook Service. */
  namespace: string;
  secretName: string;
  /** The Service in front of the webhook: the leaf is for NAME.NS.svc[.cluster.local]. */
  serviceName: string;
  /** The ValidatingWebhookConfiguration whose webhooks get the CA; unset: left alone. */
  webhookConfigurationName?: string;
  /** Where tls.crt and tls.key go; default a new directory under the temp dir, removed at stop. */
  certDir?: string;
  /** How often to check beside the watches on the Secret and configuration. Default 12 h. */
  checkIntervalMs?: number;
  logger: Logger;
}

/** The names the leaf must carry for a Service: the API server connects to NAME.NS.svc. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** A new CA, and a leaf for `dnsNames` signed by `ca` (a new one when not given). */
export function issueServingKeyPair(
  dnsNames: string[],
  ca?: Pick<ServingKeyPair, 'caCert' | 'caKey'>,
): ServingKeyPair {
  let caCert = ca?.caCert;
  let caKey = ca?.caKey;
  if (!caCert || !caKey) {
    caKey = generatePrivateKey();
    caCert = signCertificate({
      csrPem: createCsr({
        privateKeyPem: caKey,
        commonName: CA_COMMON_NAME,
        dnsNames: [],
        ipAddresses: [],
        isCA: true,
      }),
      issuerKeyPem: caKey,
      durationMs: WEBHOOK_CA_LIFETIME_MS,
      usages: [],
      isCA: true,
      selfSigned: true,
    });
  }
  const key = generatePrivateKey();
  const cert = signCertificate({
    // No common name: the names are the SANs (RFC 6125), and a CN is capped at 64 characters.
    csrPem: createCsr({ privateKeyPem: key, dnsNames, ipAddresses: [] }),
    issuerCertPem: caCert,
    issuerKeyPem: caKey,
    durationMs: WEBHOOK_LEAF_LIFETIME_MS,
    usages: [],
  });
  return { caCert, caKey, cert, key };
}

/**
 * Why a stored pair must be replaced now (`leaf`), and whether its CA must go too (`ca`);
 * both unset when it serves until the next check. Each part is due at two thirds of its life.
 */
export function servingKeyPairProblems(
  pair: Partial<ServingKeyPair>,
  dnsNames: string[],
  now = new Date(),
): { ca?: string; leaf?: string } {
  const missing = Object.entries(SERVING_CERT_KEYS).filter(
    ([field]) => !pair[field as keyof ServingKeyPair],
  );
  if (missing.length) {
    const reason = `the Secret has no ${missing.map(([, key]) => key).join(', ')}`;
    const caMissing = !pair.caCert || !pair.caKey;
    return caMissing ? { ca: reason, leaf: reason } : { leaf: reason };
  }
  const { caCert, caKey, cert, key } = pair as ServingKeyPair;
  let ca: string | undefined;
  try {
    const info = inspectCertificate(caCert);
    if (!info.isCA) ca = 'ca.crt is not a CA';
    else if (!keyMatchesCertificate(caKey, caCert)) ca = 'ca.key does not belong to ca.crt';
    else if (defaultRenewalTime(info.notBefore, info.notAfter) <= now) {
      ca = `the CA is due for renewal: it expires at ${info.notAfter.toISOString()}`;
    }
  } catch (err) {
    ca = `the CA cannot be read: ${(err as Error).message}`;
  }
  // A new CA needs a leaf it signed.
  if (ca) return { ca, leaf: ca };
  try {
    const info = inspectCertificate(cert);
    const want = [...dnsNames].sort().join(', ');
    const has = info.dnsNames
      .map((n) => n.toLowerCase())
      .sort()
      .join(', ');
    if (has !== want) return { leaf: `tls.crt is for ${has || 'no DNS name'}, not ${want}` };
    if (!keyMatchesCertificate(key, cert)) return { leaf: 'tls.key does not belong to tls.crt' };
    if (defaultRenewalTime(info.notBefore, info.notAfter) <= now) {
      return { leaf: `tls.crt is due for renewal: it expires at ${info.notAfter.toISOString()}` };
    }
    const chain = verifyChain(cert, caCert, now);
    if (!chain.valid) return { leaf: `tls.crt does not verify against ca.crt: ${chain.reason}` };
  } catch (err) {
    return { leaf: `tls.crt cannot be read: ${(err as Error).message}` };
  }
  return {};
}

/**
 * Keeps the serving certificate usable: checks the Secret at start, every `checkIntervalMs`,
 * and whenever the Secret or the webhook configuration changes. Replicas race on the Secret
 * by create and resourceVersion-guarded update; a loser uses the winner's pair.
 */
export class ServingCert {
  readonly certDir: string;
  readonly dnsNames: string[];
  /** Resolves once tls.crt and tls.key are on disk for the first time. */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly ownsCertDir: boolean;
  private readonly log: Logger;
  /** The resourceVersions last seen, so watch events of our own writes cost nothing. */
  private readonly known = { secret: '', configuration: '' };
  /** The pair on disk. */
  private published: ServingKeyPair | undefined;
  private pending = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: ServingCertOptions) {
    if (opts.checkIntervalMs !== undefined && !(opts.checkIntervalMs > 0)) {
      throw new Error(`checkIntervalMs must be positive, got ${opts.checkIntervalMs}`);
    }
    this.ownsCertDir = !opts.certDir;
    // Synchronously, because the webhook server is given the directory when it is built.
    this.certDir = opts.certDir ?? mkdtempSync(join(tmpdir(), 'chousei-cert-webhook-'));
    this.dnsNames = serviceDnsNames(opts.serviceName, opts.namespace);
    this.log = opts.logger.child({
      component: 'webhook-serving-cert',
      secret: `${opts.namespace}/${opts.secretName}`,
    });
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  /** `ready`, or sooner when `signal` aborts: for `addWebhookServer`'s `startAfter`. */
  whenReady(signal: AbortSignal): Promise<void> {
    return Promise.race([this.ready, whenAborted(signal)]);
  }

  /** Checks until `signal` aborts; failures are logged and retried with backoff. */
  async run(signal: AbortSignal): Promise<void> {
    const watches = [
      this.follow(Secrets, this.opts.secretName, 'secret', signal, this.opts.namespace),
      ...(this.opts.webhookConfigurationName
        ? [
            this.follow(
              ValidatingWebhookConfigurations,
              this.opts.webhookConfigurationName,
              'configuration',
              signal,
            ),
          ]
        : []),
    ];
    let failures = 0;
    while (!signal.aborted) {
      this.pending = false;
      try {
        await this.check();
        failures = 0;
      } catch (err) {
        failures++;
        const retryInMs = Math.round(backoffDelay(failures, { initialMs: 1000, maxMs: 300_000 }));
        this.log.warn({ err: (err as Error).message, failures, retryInMs }, 'check failed');
        await sleep(retryInMs, signal);
        continue;
      }
      if (!this.pending) {
        await this.nap(this.opts.checkIntervalMs ?? DEFAULT_SERVING_CERT_CHECK_MS, signal);
      }
    }
    await Promise.all(watches);
    if (this.ownsCertDir) await rm(this.certDir, { recursive: true, force: true });
  }

  /** One pass: the Secret, then the files (the server may start), then the caBundle. */
  private async check(): Promise<void> {
    const pair = await this.ensureSecret();
    await this.publish(pair);
    this.markReady();
    if (this.opts.webhookConfigurationName) {
      await this.injectCaBundle(this.opts.webhookConfigurationName, pair.caCert);
    }
  }

  private async ensureSecret(): Promise<ServingKeyPair> {
    const key = { namespace: this.opts.namespace, name: this.opts.secretName };
    for (let attempt = 1; ; attempt++) {
      let secret: Secret | undefined;
      try {
        secret = await this.opts.client.get(Secrets, key);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const stored = secret ? pairOf(secret) : {};
      const due = secret
        ? servingKeyPairProblems(stored, this.dnsNames)
        : { ca: 'no Secret', leaf: 'no Secret' };
      if (!due.leaf) {
        this.known.secret = secret?.metadata?.resourceVersion ?? '';
        return stored as ServingKeyPair;
      }
      const next = issueServingKeyPair(
        this.dnsNames,
        due.ca ? undefined : (stored as ServingKeyPair),
      );
      const data = Object.fromEntries(
        Object.entries(SERVING_CERT_KEYS).map(([field, name]) => [
          name,
          Buffer.from(next[field as keyof ServingKeyPair]).toString('base64'),
        ]),
      );
      try {
        const written = secret
          ? // resourceVersion from the read: a replica that wrote in between makes this a Conflict.
            await this.opts.client.update(Secrets, { ...secret, data })
          : await this.opts.client.create(Secrets, {
              metadata: {
                ...key,
                labels: { 'app.kubernetes.io/managed-by': 'chousei-cert-operator' },
              },
              type: 'kubernetes.io/tls',
              data,
            });
        this.known.secret = written.metadata?.resourceVersion ?? '';
        const leaf = inspectCertificate(next.cert);
        this.log.info(
          {
            reason: due.leaf,
            newCA: !!due.ca,
            notAfter: leaf.notAfter.toISOString(),
            caFingerprint: inspectCertificate(next.caCert).fingerprintSha256,
          },
          'wrote a new webhook serving certificate',
        );
        return next;
      } catch (err) {
        // Another replica wrote first: read again and, as its pair is as good, use it.
        if ((isAlreadyExists(err) || isConflict(err)) && attempt < 5) continue;
        throw err;
      }
    }
  }

  /**
   * Writes the pair as the kubelet updates a Secret volume, which the webhook server
   * watches: the files go to a fresh directory and the `..data` symlink is swapped to it by
   * rename, so a reader sees the old pair or the new, never half of each.
   */
  private async publish(pair: ServingKeyPair): Promise<void> {
    if (this.published?.cert === pair.cert && this.published.key === pair.key) return;
    const dir = this.certDir;
    await mkdir(dir, { recursive: true });
    const version = await mkdtemp(join(dir, VERSION_PREFIX));
    await writeFile(join(version, 'tls.crt'), pair.cert, { mode: 0o644 });
    await writeFile(join(version, 'tls.key'), pair.key, { mode: 0o600 });
    await swapSymlink(dir, '..data', basename(version));
    for (const file of ['tls.crt', 'tls.key']) {
      const target = join('..data', file);
      const current = await readlink(join(dir, file)).catch(() => undefined);
      if (current !== target) await swapSymlink(dir, file, target);
    }
    for (const entry of await readdir(dir)) {
      if (entry.startsWith(VERSION_PREFIX) && entry !== basename(version)) {
        await rm(join(dir, entry), { recursive: true, force: true });
      }
    }
    this.published = pair;
    this.log.info({ certDir: dir }, 'serving certificate files written');
  }

  /** Sets every webhook's caBundle to the CA, patching only those that differ. */
  private async injectCaBundle(name: string, caPem: string): Promise<void> {
    let config: ValidatingWebhookConfiguration;
    try {
      config = await this.opts.client.get(ValidatingWebhookConfigurations, { name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Its creation is watched for: no error, no retry storm.
      this.log.warn({ configuration: name }, 'ValidatingWebhookConfiguration not found');
      this.known.configuration = '';
      return;
    }
    const caBundle = Buffer.from(caPem).toString('base64');
    // Each replacement tests the name at its index, in case the list changed since the read.
    const patch: JsonPatchOperation[] = (config.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig.caBundle === caBundle
        ? []
        : [
            { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
          ],
    );
    if (!patch.length) {
      this.known.configuration = config.metadata?.resourceVersion ?? '';
      return;
    }
    const patched = await this.opts.client.patch(
      ValidatingWebhookConfigurations,
      { name },
      { type: 'json', patch },
    );
    this.known.configuration = patched.metadata?.resourceVersion ?? '';
    this.log.info(
      { configuration: name, webhooks: patch.length / 2 },
      'injected the CA as caBundle',
    );
  }

  /**
   * Watches one object, metadata only (the Secret's keys never reach this watch), and asks
   * for a check when it changes in a way this replica did not write itself.
   */
  private async follow<T extends KubeObject>(
    rt: ResourceType<T>,
    name: string,
    which: 'secret' | 'configuration',
    signal: AbortSignal,
    namespace?: string,
  ): Promise<void> {
    const watcher = new Watcher(this.opts.client.transport, rt, {
      ...(namespace ? { namespace } : {}),
      fieldSelector: `metadata.name=${name}`,
      metadataOnly: true,
      logger: this.log,
    });
    for await (const event of watcher.events(signal)) {
      const version =
        event.type === 'relist'
          ? (event.objects[0]?.metadata?.resourceVersion ?? '')
          : event.type === 'deleted'
            ? ''
            : (event.object.metadata?.resourceVersion ?? '');
      if (version !== this.known[which]) this.trigger();
    }
  }

  private trigger(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Sleeps `ms`, or less when a watch asks for a check or `signal` aborts. */
  private nap(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}

function pairOf(secret: Secret): Partial<ServingKeyPair> {
  const pair: Partial<ServingKeyPair> = {};
  for (const [field, name] of Object.entries(SERVING_CERT_KEYS)) {
    const value = secret.data?.[name];
    if (value) pair[field as keyof ServingKeyPair] = Buffer.from(value, 'base64').toString('utf8');
  }
  return pair;
}

/** Points `dir/name` at `target` in one rename, replacing whatever was there. */
async function swapSymlink(dir: string, name: string, target: string): Promise<void> {
  const temporary = join(dir, `${name}_tmp`);
  await rm(temporary, { force: true });
  await symlink(target, temporary);
  await rename(temporary, join(dir, name));
}
