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
  gauge,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type JsonPatchOperation,
  type KubeObject,
  type Logger,
  notFoundIsUndefined,
  type ResourceType,
  type Secret,
  Secrets,
  sleep,
  type ValidatingWebhookConfiguration,
  ValidatingWebhookConfigurations,
  Watcher,
  whenAborted,
} from '@chousei/runtime';
import { SecretValueTooLargeError, secretValue } from '../controllers/secret.js';
import {
  createCsr,
  defaultRenewalTime,
  generatePrivateKey,
  inspectCertificate,
  keyMatchesCertificate,
  signCertificate,
  splitPem,
  verifyChain,
} from '../pki/index.js';

const DAY_MS = 86_400_000;
export const WEBHOOK_CA_LIFETIME_MS = 3650 * DAY_MS;
export const WEBHOOK_LEAF_LIFETIME_MS = 365 * DAY_MS;
export const DEFAULT_SERVING_CERT_CHECK_MS = 12 * 3_600_000;
export const DEFAULT_CA_TRUST_DELAY_MS = 30_000;
const CA_COMMON_NAME = 'chousei-cert-operator webhook CA';
const servingExpiration = gauge(
  'chousei_cert_webhook_certificate_expiration_timestamp_seconds',
  'When the serving certificate of the validating webhook expires (the one this replica serves)',
  [],
);
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
  /**
   * How long a new CA must have been in every caBundle before leaves it signs are served
   * (API servers see the configuration through a watch of their own). Default 30 s.
   */
  caTrustDelayMs?: number;
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
 * What is wrong with a stored pair. `ca.crt` may hold several CAs: the one `ca.key` belongs
 * to (it signs) first, then previous ones, trusted until they expire, so that a CA is
 * replaced without a moment when the API server cannot verify the leaf it is served.
 */
export interface ServingKeyPairProblems {
  /** Why the signing CA must be replaced. */
  ca?: string;
  /** With `ca`: the CA is sound, only due. It stays in ca.crt, behind the next one. */
  caDue?: boolean;
  /** Why the leaf must be replaced. */
  leaf?: string;
  /**
   * With `leaf`: it still verifies and has the right names and key; only its age or its
   * signer (a previous CA) calls for a new one. It may serve while a next CA becomes trusted.
   */
  leafServes?: boolean;
  /** With `leaf`: it was signed by a previous CA in ca.crt. */
  leafFromPreviousCA?: boolean;
}

/**
 * Why a stored pair must be replaced now (`leaf`), and whether its CA must go too (`ca`);
 * none when it serves until the next check. Each part is due at two thirds of its life.
 */
export function servingKeyPairProblems(
  pair: Partial<ServingKeyPair>,
  dnsNames: string[],
  now = new Date(),
): ServingKeyPairProblems {
  const missing = Object.entries(SERVING_CERT_KEYS).filter(
    ([field]) => !pair[field as keyof ServingKeyPair],
  );
  if (missing.length) {
    const reason = `the Secret has no ${missing.map(([, key]) => key).join(', ')}`;
    const caMissing = !pair.caCert || !pair.caKey;
    return caMissing ? { ca: reason, leaf: reason } : { leaf: reason };
  }
  const { caCert, caKey, cert, key } = pair as ServingKeyPair;
  const cas = splitPem(caCert);
  let ca: string | undefined;
  let caDue = false;
  try {
    const signing = cas[0] ?? caCert;
    const info = inspectCertificate(signing);
    if (!info.isCA) ca = 'ca.crt is not a CA';
    else if (!keyMatchesCertificate(caKey, signing)) ca = 'ca.key does not belong to ca.crt';
    else if (defaultRenewalTime(info.notBefore, info.notAfter) <= now) {
      ca = `the CA is due for renewal: it expires at ${info.notAfter.toISOString()}`;
      caDue = info.notAfter > now;
    }
  } catch (err) {
    ca = `the CA cannot be read: ${(err as Error).message}`;
  }
  // A CA that cannot sign takes its leaf with it: it would not verify either.
  if (ca && !caDue) return { ca, leaf: ca };
  const leaf = leafProblems(cert, key, dnsNames, cas, now);
  return { ...(ca ? { ca, caDue } : {}), ...leaf };
}

function leafProblems(
  cert: string,
  key: string,
  dnsNames: string[],
  cas: string[],
  now: Date,
): Pick<ServingKeyPairProblems, 'leaf' | 'leafServes' | 'leafFromPreviousCA'> {
  try {
    const info = inspectCertificate(cert);
    const want = [...dnsNames].sort().join(', ');
    const has = info.dnsNames
      .map((n) => n.toLowerCase())
      .sort()
      .join(', ');
    if (has !== want) return { leaf: `tls.crt is for ${has || 'no DNS name'}, not ${want}` };
    if (!keyMatchesCertificate(key, cert)) return { leaf: 'tls.key does not belong to tls.crt' };
    const signer = cas.findIndex((ca) => verifyChain(cert, ca, now).valid);
    if (signer < 0) {
      const why = verifyChain(cert, cas[0] ?? '', now);
      return { leaf: `tls.crt does not verify against ca.crt: ${why.valid ? '' : why.reason}` };
    }
    if (defaultRenewalTime(info.notBefore, info.notAfter) <= now) {
      return {
        leaf: `tls.crt is due for renewal: it expires at ${info.notAfter.toISOString()}`,
        leafServes: true,
        ...(signer > 0 ? { leafFromPreviousCA: true } : {}),
      };
    }
    if (signer > 0) {
      return {
        leaf: 'tls.crt was signed by a previous CA',
        leafServes: true,
        leafFromPreviousCA: true,
      };
    }
    return {};
  } catch (err) {
    return { leaf: `tls.crt cannot be read: ${(err as Error).message}` };
  }
}

/** The CAs of a ca.crt bundle still valid at `now`, in order. */
function unexpired(cas: string[], now = new Date()): string[] {
  return cas.filter((ca) => {
    try {
      return inspectCertificate(ca).notAfter > now;
    } catch {
      return false;
    }
  });
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
  /** When a check is due sooner than the interval: a CA on its way to being trusted. */
  private recheckAt: number | undefined;
  /** When this replica first saw each CA (PEM) in every caBundle. */
  private readonly trustedSince = new Map<string, number>();
  private readonly trustDelayMs: number;

  constructor(private readonly opts: ServingCertOptions) {
    if (opts.checkIntervalMs !== undefined && !(opts.checkIntervalMs > 0)) {
      throw new Error(`checkIntervalMs must be positive, got ${opts.checkIntervalMs}`);
    }
    if (opts.caTrustDelayMs !== undefined && !(opts.caTrustDelayMs >= 0)) {
      throw new Error(`caTrustDelayMs must not be negative, got ${opts.caTrustDelayMs}`);
    }
    this.trustDelayMs = opts.caTrustDelayMs ?? DEFAULT_CA_TRUST_DELAY_MS;
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
        const interval = this.opts.checkIntervalMs ?? DEFAULT_SERVING_CERT_CHECK_MS;
        const soon = this.recheckAt === undefined ? interval : this.recheckAt - Date.now();
        this.recheckAt = undefined;
        await this.nap(Math.max(0, Math.min(interval, soon)), signal);
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
      const due: ServingKeyPairProblems = secret
        ? servingKeyPairProblems(stored, this.dnsNames)
        : { ca: 'no Secret', leaf: 'no Secret' };
      const keep = () => {
        this.known.secret = secret?.metadata?.resourceVersion ?? '';
        return stored as ServingKeyPair;
      };
      if (!due.ca && !due.leaf) return keep();
      // A leaf of a previous CA is swapped once the API server trusts the current one.
      if (due.leafFromPreviousCA && !(await this.trusted(stored.caCert!))) return keep();
      const next = this.nextPair(stored, due);
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
        // A new CA beside a leaf it did not sign: the leaf follows once the CA is trusted.
        if (next.cert === stored.cert) this.recheckIn(this.trustDelayMs);
        const leaf = inspectCertificate(next.cert);
        this.log.info(
          {
            reason: due.ca ?? due.leaf,
            newCA: !!due.ca,
            newLeaf: next.cert !== stored.cert,
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
   * What replaces a stored pair. A CA that is only due gets a successor in front of it in
   * ca.crt, and its leaf serves on until the successor is trusted (then `leafFromPreviousCA`
   * replaces it); a CA that cannot sign is replaced with its leaf at once.
   */
  private nextPair(stored: Partial<ServingKeyPair>, due: ServingKeyPairProblems): ServingKeyPair {
    const previous = unexpired(splitPem(stored.caCert ?? ''));
    if (due.ca) {
      const fresh = issueServingKeyPair(this.dnsNames);
      if (!due.caDue) return fresh;
      const caCert = [fresh.caCert, ...previous].join('');
      return due.leafServes
        ? { ...fresh, caCert, cert: stored.cert!, key: stored.key! }
        : { ...fresh, caCert };
    }
    // The signing CA is first; expired previous ones are dropped on the way.
    return {
      ...issueServingKeyPair(this.dnsNames, stored as ServingKeyPair),
      caCert: previous.join(''),
    };
  }

  /**
   * Whether every webhook's caBundle has held `caBundlePem`'s first CA for the trust delay,
   * as this replica saw it; if not yet, a check is due when it may have. The delay covers the
   * API servers' own watch of the configuration.
   */
  private async trusted(caBundlePem: string): Promise<boolean> {
    const ca = splitPem(caBundlePem)[0] ?? '';
    const name = this.opts.webhookConfigurationName;
    if (name) {
      const config = await this.opts.client
        .get(ValidatingWebhookConfigurations, { name })
        .catch(notFoundIsUndefined);
      const holds = (config?.webhooks ?? []).every((w) =>
        splitPem(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')).includes(
          ca,
        ),
      );
      if (!holds) {
        // The injection after this check puts it there: look again once it may be trusted.
        this.trustedSince.delete(ca);
        this.recheckIn(this.trustDelayMs);
        return false;
      }
    }
    const since = this.trustedSince.get(ca) ?? Date.now();
    this.trustedSince.set(ca, since);
    const wait = since + this.trustDelayMs - Date.now();
    if (wait <= 0) return true;
    this.recheckIn(wait);
    return false;
  }

  private recheckIn(ms: number): void {
    const at = Date.now() + ms;
    this.recheckAt = Math.min(this.recheckAt ?? at, at);
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
    servingExpiration.set(inspectCertificate(pair.cert).notAfter.getTime() / 1000);
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
    let value: string | undefined;
    try {
      value = secretValue(secret, name);
    } catch (err) {
      // Over the limit: as good as missing, so a new pair replaces it.
      if (!(err instanceof SecretValueTooLargeError)) throw err;
    }
    if (value) pair[field as keyof ServingKeyPair] = value;
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
