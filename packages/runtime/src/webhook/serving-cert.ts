/**
 * A webhook's serving certificate, managed by the operator itself: a CA and a leaf for the
 * webhook's Service kept in one Secret the replicas share, written where the WebhookServer
 * reads (and reloads) it, and the CA put into the caBundle of the webhook configurations.
 * Runs on every replica, as webhooks do. A CA that is due is replaced without a moment the
 * API server cannot verify the leaf: its successor is trusted first, then signs.
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
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { isAlreadyExists, isConflict, notFoundIsUndefined } from '../client/errors.js';
import {
  MutatingWebhookConfigurations,
  type ResourceType,
  Secrets,
  ValidatingWebhookConfigurations,
} from '../client/resource.js';
import type {
  MutatingWebhookConfiguration,
  Secret,
  ValidatingWebhookConfiguration,
} from '../client/types.js';
import { gauge } from '../metrics/registry.js';
import { sleep, whenAborted } from '../util/async.js';
import { backoffDelay } from '../util/backoff.js';
import { Watcher } from '../watch/watcher.js';
import {
  issueCertificate,
  type KeyPair,
  notAfter,
  PAIR_KEYS,
  type PairProblems,
  pairProblems,
  type ServingPair,
  splitPem,
  unexpired,
} from './pki.js';

const DAY_MS = 86_400_000;
const CA_LIFETIME_MS = 3650 * DAY_MS;
const LEAF_LIFETIME_MS = 365 * DAY_MS;
/** Validity starts this early, so an API server whose clock lags a little accepts it. */
const BACKDATE_MS = 60_000;
const DEFAULT_CHECK_INTERVAL_MS = 3_600_000;
const DEFAULT_CA_TRUST_DELAY_MS = 30_000;
/** A Secret value over this is read as missing (and replaced): a pair is a few KB. */
const MAX_VALUE_BYTES = 256 * 1024;
/** Prefix of the version directories the `..data` symlink points to. */
const VERSION_PREFIX = '..cert-';

const expiration = gauge(
  'chousei_webhook_certificate_expiration_timestamp_seconds',
  'When the serving certificate of the admission webhooks expires (the one this replica serves)',
  [],
);

/** A webhook configuration whose webhooks get the CA as their caBundle. */
export interface WebhookConfigurationRef {
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';
  name: string;
}

export interface ServingCertOptions {
  client: Client;
  /** Namespace of the Secret and of the webhook Service. */
  namespace: string;
  secretName: string;
  /** The Service in front of the webhooks: the leaf is for NAME.NS.svc[.cluster.local]. */
  serviceName: string;
  webhookConfigurations?: WebhookConfigurationRef[];
  /** Where tls.crt and tls.key go; default a new directory under the temp dir. */
  certDir?: string;
  /** How often to check beside the watches on the Secret and configurations. Default 1 h. */
  checkIntervalMs?: number;
  /**
   * How long a new CA must have been in every caBundle before a leaf it signs is served
   * (API servers see the configurations through a watch of their own). Default 30 s.
   */
  caTrustDelayMs?: number;
  /** Default `chousei webhook CA`. */
  caCommonName?: string;
  /** Labels of the Secret when it is created. */
  labels?: Record<string, string>;
  logger: Logger;
}

type Configuration = ValidatingWebhookConfiguration | MutatingWebhookConfiguration;
const KINDS: Record<WebhookConfigurationRef['kind'], ResourceType<Configuration>> = {
  ValidatingWebhookConfiguration: ValidatingWebhookConfigurations,
  MutatingWebhookConfiguration: MutatingWebhookConfigurations,
};

/**
 * Keeps the serving pair: `run` on every replica, give the WebhookServer `certDir`, and
 * start it after `whenReady` (`manager.addWebhookServer(server, { startAfter })`). Replicas
 * race on the Secret by create and resourceVersion-guarded patch; a loser uses the winner's.
 */
export class ServingCert {
  readonly certDir: string;
  readonly dnsNames: string[];
  private readonly log: Logger;
  private markReady!: () => void;
  private readonly ready = new Promise<void>((resolve) => {
    this.markReady = resolve;
  });
  private served: KeyPair | undefined;
  private wake = new AbortController();
  private readonly trustDelayMs: number;
  /** When a check is due sooner than the interval: a CA on its way to being trusted. */
  private recheckAt: number | undefined;
  /** When this replica first saw each CA (PEM) in every caBundle. */
  private readonly trustedSince = new Map<string, number>();

  constructor(private readonly opts: ServingCertOptions) {
    if (opts.checkIntervalMs !== undefined && !(opts.checkIntervalMs > 0)) {
      throw new Error(`checkIntervalMs must be positive, got ${opts.checkIntervalMs}`);
    }
    if (opts.caTrustDelayMs !== undefined && !(opts.caTrustDelayMs >= 0)) {
      throw new Error(`caTrustDelayMs must not be negative, got ${opts.caTrustDelayMs}`);
    }
    this.trustDelayMs = opts.caTrustDelayMs ?? DEFAULT_CA_TRUST_DELAY_MS;
    // Synchronously: the webhook server is given the directory when it is built.
    this.certDir = opts.certDir ?? mkdtempSync(join(tmpdir(), 'chousei-webhook-'));
    this.dnsNames = [
      `${opts.serviceName}.${opts.namespace}.svc`,
      `${opts.serviceName}.${opts.namespace}.svc.cluster.local`,
    ];
    this.log = opts.logger.child({
      component: 'webhook-serving-cert',
      secret: `${opts.namespace}/${opts.secretName}`,
    });
  }

  /** Resolves once tls.crt and tls.key are on disk, or when `signal` aborts. */
  whenReady(signal: AbortSignal): Promise<void> {
    return Promise.race([this.ready, whenAborted(signal)]);
  }

  /** Checks until `signal` aborts, and whenever the Secret or a configuration changes. */
  async run(signal: AbortSignal): Promise<void> {
    const watches = [
      this.follow(Secrets, this.opts.secretName, signal, this.opts.namespace),
      ...(this.opts.webhookConfigurations ?? []).map((c) =>
        this.follow(KINDS[c.kind], c.name, signal),
      ),
    ];
    const interval = this.opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    for (let failures = 0; !signal.aborted; ) {
      const nap = this.wake.signal;
      try {
        await this.check();
        failures = 0;
        const soon = this.recheckAt === undefined ? interval : this.recheckAt - Date.now();
        this.recheckAt = undefined;
        await sleep(Math.max(0, Math.min(interval, soon)), AbortSignal.any([signal, nap]));
      } catch (err) {
        failures++;
        const retryInMs = Math.round(backoffDelay(failures, { initialMs: 1000, maxMs: 300_000 }));
        this.log.warn({ err: (err as Error).message, failures, retryInMs }, 'check failed');
        await sleep(retryInMs, signal);
      }
    }
    await Promise.all(watches);
    if (!this.opts.certDir) await rm(this.certDir, { recursive: true, force: true });
  }

  /** One pass: the Secret, then the files (the server may start), then every caBundle. */
  private async check(): Promise<void> {
    const pair = await this.ensureSecret();
    await this.publish(pair.leaf);
    this.markReady();
    for (const ref of this.opts.webhookConfigurations ?? []) {
      await this.injectCaBundle(ref, pair.ca.cert);
    }
  }

  private async ensureSecret(): Promise<ServingPair> {
    const key = { namespace: this.opts.namespace, name: this.opts.secretName };
    for (let attempt = 1; ; attempt++) {
      const secret = await this.opts.client.get(Secrets, key).catch(notFoundIsUndefined);
      const stored = secret && pairOf(secret);
      const now = new Date();
      const due: PairProblems = stored
        ? pairProblems(stored, this.dnsNames, now)
        : { ca: 'no Secret', leaf: 'no Secret' };
      if (stored && !due.ca && !due.leaf) return stored;
      // A leaf of a previous CA is replaced once the API servers trust the current one.
      if (stored && due.leafFromPreviousCA && !(await this.trusted(stored.ca.cert))) {
        return stored;
      }
      const next = this.next(stored, due, now);
      try {
        await this.write(secret, next);
        // A new CA beside a leaf it did not sign: the leaf follows once the CA is trusted.
        if (next.leaf === stored?.leaf) this.recheckIn(this.trustDelayMs);
        this.log.info(
          {
            reason: due.ca ?? due.leaf,
            newCA: !!due.ca,
            newLeaf: next.leaf !== stored?.leaf,
            notAfter: notAfter(next.leaf.cert).toISOString(),
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
   * ca.crt, and a leaf that still serves stays until the successor is trusted (then
   * `leafFromPreviousCA` replaces it); a missing or unusable CA is replaced with its leaf at
   * once. Expired previous CAs are dropped on the way.
   */
  private next(stored: ServingPair | undefined, due: PairProblems, now: Date): ServingPair {
    const previous = unexpired(splitPem(stored?.ca.cert ?? ''), now);
    if (!stored || (due.ca && !due.caDue)) return this.issue(undefined, now);
    if (due.ca) {
      const fresh = this.issue(undefined, now);
      const ca = { cert: fresh.ca.cert + previous.join(''), key: fresh.ca.key };
      return { ca, leaf: due.leaf && !due.leafServes ? fresh.leaf : stored.leaf };
    }
    const signer = { cert: previous[0] ?? '', key: stored.ca.key };
    return {
      ca: { cert: previous.join(''), key: stored.ca.key },
      leaf: this.issue(signer, now).leaf,
    };
  }

  /** A leaf signed by `ca`, or by a new CA when none is given. */
  private issue(ca: KeyPair | undefined, now: Date): ServingPair {
    const notBefore = new Date(now.getTime() - BACKDATE_MS);
    const signer =
      ca ??
      issueCertificate({
        commonName: this.opts.caCommonName ?? 'chousei webhook CA',
        notBefore,
        notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
      });
    const leaf = issueCertificate({
      dnsNames: this.dnsNames,
      notBefore,
      notAfter: new Date(now.getTime() + LEAF_LIFETIME_MS),
      issuer: signer,
    });
    return { ca: signer, leaf };
  }

  /**
   * Whether every webhook's caBundle has held the bundle's first CA for the trust delay, as
   * this replica saw it; if not yet, a check is due when it may have. The delay covers the
   * API servers' own watch of the configurations.
   */
  private async trusted(caBundle: string): Promise<boolean> {
    const ca = splitPem(caBundle)[0] ?? '';
    for (const ref of this.opts.webhookConfigurations ?? []) {
      const config = await this.opts.client
        .get(KINDS[ref.kind], { name: ref.name })
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

  private async write(secret: Secret | undefined, pair: ServingPair): Promise<void> {
    const data = Object.fromEntries(PAIR_KEYS.map(([key, part]) => [key, base64(part(pair))]));
    if (!secret) {
      await this.opts.client.create(Secrets, {
        metadata: {
          namespace: this.opts.namespace,
          name: this.opts.secretName,
          ...(this.opts.labels ? { labels: this.opts.labels } : {}),
        },
        type: 'kubernetes.io/tls',
        data,
      });
      return;
    }
    // The resourceVersion read makes the patch conditional: a replica that wrote in
    // between turns it into a Conflict.
    await this.opts.client.patch(
      Secrets,
      { namespace: this.opts.namespace, name: this.opts.secretName },
      {
        type: 'merge',
        patch: { metadata: { resourceVersion: secret.metadata?.resourceVersion }, data },
      },
    );
  }

  /**
   * Writes the pair as the kubelet updates a Secret volume: the files go to a fresh
   * directory and the `..data` symlink is swapped to it by rename, so the WebhookServer
   * reads the old pair or the new, never half of each.
   */
  private async publish(leaf: KeyPair): Promise<void> {
    if (this.served?.cert === leaf.cert && this.served.key === leaf.key) return;
    const dir = this.certDir;
    await mkdir(dir, { recursive: true });
    const version = await mkdtemp(join(dir, VERSION_PREFIX));
    await writeFile(join(version, 'tls.crt'), leaf.cert, { mode: 0o644 });
    await writeFile(join(version, 'tls.key'), leaf.key, { mode: 0o600 });
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
    this.served = leaf;
    expiration.set(notAfter(leaf.cert).getTime() / 1000);
    this.log.info({ certDir: dir }, 'serving certificate files written');
  }

  /** Sets every webhook's caBundle to the CA, patching only those that differ. */
  private async injectCaBundle(ref: WebhookConfigurationRef, caPem: string): Promise<void> {
    const rt = KINDS[ref.kind];
    const config = await this.opts.client.get(rt, { name: ref.name }).catch(notFoundIsUndefined);
    // Its creation is watched for: no error, no retry storm.
    if (!config) return this.log.warn({ configuration: ref.name }, `${ref.kind} not found`);
    const caBundle = base64(caPem);
    // Each write tests the name at its index, in case the list changed since the read.
    const patch = (config.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig.caBundle === caBundle
        ? []
        : [
            { op: 'test' as const, path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add' as const, path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
          ],
    );
    if (!patch.length) return;
    await this.opts.client.patch(rt, { name: ref.name }, { type: 'json', patch });
    this.log.info({ configuration: ref.name, webhooks: patch.length / 2 }, 'injected the CA');
  }

  /** Watches one object, metadata only, and wakes the check loop when it changes. */
  private async follow<T extends Secret | Configuration>(
    rt: ResourceType<T>,
    name: string,
    signal: AbortSignal,
    namespace?: string,
  ): Promise<void> {
    const watcher = new Watcher(this.opts.client.transport, rt, {
      ...(namespace ? { namespace } : {}),
      fieldSelector: `metadata.name=${name}`,
      metadataOnly: true,
      logger: this.log,
    });
    for await (const _ of watcher.events(signal)) {
      const woken = this.wake;
      this.wake = new AbortController();
      woken.abort();
    }
  }
}

const base64 = (s: string) => Buffer.from(s).toString('base64');

/** The pair a Secret holds; a value over MAX_VALUE_BYTES reads as missing. */
function pairOf(secret: Secret): ServingPair {
  const text = (key: string) => {
    const value = secret.data?.[key] ?? '';
    if (Buffer.byteLength(value, 'base64') > MAX_VALUE_BYTES) return '';
    return Buffer.from(value, 'base64').toString('utf8');
  };
  return {
    ca: { cert: text('ca.crt'), key: text('ca.key') },
    leaf: { cert: text('tls.crt'), key: text('tls.key') },
  };
}

/** Points `dir/name` at `target` in one rename, replacing whatever was there. */
async function swapSymlink(dir: string, name: string, target: string): Promise<void> {
  const temporary = join(dir, `${name}_tmp`);
  await rm(temporary, { force: true });
  await symlink(target, temporary);
  await rename(temporary, join(dir, name));
}
