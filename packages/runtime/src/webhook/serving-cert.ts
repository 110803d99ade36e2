/**
 * A webhook's serving certificate, managed by the operator itself: a CA and a leaf for the
 * webhook's Service kept in one Secret the replicas share, written where the WebhookServer
 * reads (and reloads) it, and the CA put into the caBundle of the webhook configurations.
 * Runs on every replica, as webhooks do.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { caProblem, issueCertificate, type KeyPair, leafProblem, notAfter } from './pki.js';

const DAY_MS = 86_400_000;
const CA_LIFETIME_MS = 3650 * DAY_MS;
const LEAF_LIFETIME_MS = 365 * DAY_MS;
/** Validity starts this early, so an API server whose clock lags a little accepts it. */
const BACKDATE_MS = 60_000;

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
  /** Default `chousei webhook CA`. */
  caCommonName?: string;
  logger: Logger;
}

type Configuration = ValidatingWebhookConfiguration | MutatingWebhookConfiguration;
const KINDS: Record<WebhookConfigurationRef['kind'], ResourceType<Configuration>> = {
  ValidatingWebhookConfiguration: ValidatingWebhookConfigurations,
  MutatingWebhookConfiguration: MutatingWebhookConfigurations,
};

/** The Secret's keys: the CA and its key (it signs the next leaf), and the serving pair. */
interface StoredPair {
  ca: KeyPair;
  leaf: KeyPair;
}

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

  constructor(private readonly opts: ServingCertOptions) {
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
    for (let failures = 0; !signal.aborted; ) {
      const nap = this.wake.signal;
      try {
        await this.check();
        failures = 0;
        await sleep(this.opts.checkIntervalMs ?? 3_600_000, AbortSignal.any([signal, nap]));
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

  private async ensureSecret(): Promise<StoredPair> {
    const key = { namespace: this.opts.namespace, name: this.opts.secretName };
    for (let attempt = 1; ; attempt++) {
      const secret = await this.opts.client.get(Secrets, key).catch(notFoundIsUndefined);
      const stored = secret && pairOf(secret);
      const now = new Date();
      const caDue = stored ? caProblem(stored.ca, now) : 'no Secret';
      const leafDue =
        stored && !caDue ? leafProblem(stored.leaf, stored.ca, this.dnsNames, now) : caDue;
      if (stored && !leafDue) return stored;
      const next = this.issue(caDue ? undefined : stored?.ca, now);
      try {
        await this.write(secret, next);
        this.log.info(
          { reason: leafDue, newCA: !!caDue, notAfter: notAfter(next.leaf.cert).toISOString() },
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
   * A leaf signed by `ca`, or by a new CA when none is given. A new CA comes with its leaf
   * at once (a due one every 6.7 years): an API server that has not yet seen the new
   * caBundle refuses calls for the seconds its watch takes. (The cert-operator's own
   * serving certificate bridges that with a trust delay: to move here with it.)
   */
  private issue(ca: KeyPair | undefined, now: Date): StoredPair {
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

  private async write(secret: Secret | undefined, pair: StoredPair): Promise<void> {
    const data = dataOf(pair);
    if (!secret) {
      await this.opts.client.create(Secrets, {
        metadata: { namespace: this.opts.namespace, name: this.opts.secretName },
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
   * Writes tls.key, then tls.crt, each by rename: the WebhookServer refuses a certificate
   * and key that do not match, keeping the pair it serves, and reloads once both are new.
   */
  private async publish(leaf: KeyPair): Promise<void> {
    if (this.served?.cert === leaf.cert && this.served.key === leaf.key) return;
    await mkdir(this.certDir, { recursive: true });
    for (const [file, content, mode] of [
      ['tls.key', leaf.key, 0o600],
      ['tls.crt', leaf.cert, 0o644],
    ] as const) {
      const temporary = join(this.certDir, `.${file}.tmp`);
      await writeFile(temporary, content, { mode });
      await rename(temporary, join(this.certDir, file));
    }
    this.served = leaf;
    expiration.set(notAfter(leaf.cert).getTime() / 1000);
    this.log.info({ certDir: this.certDir }, 'serving certificate files written');
  }

  /** Sets every webhook's caBundle to the CA, patching only those that differ. */
  private async injectCaBundle(ref: WebhookConfigurationRef, caPem: string): Promise<void> {
    const rt = KINDS[ref.kind];
    const config = await this.opts.client.get(rt, { name: ref.name }).catch(notFoundIsUndefined);
    // Its creation is watched for: no error, no retry storm.
    if (!config) return this.log.warn({ configuration: ref.name }, `${ref.kind} not found`);
    const caBundle = Buffer.from(caPem).toString('base64');
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
const text = (secret: Secret, key: string) =>
  Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');

function dataOf(pair: StoredPair): Record<string, string> {
  return {
    'ca.crt': base64(pair.ca.cert),
    'ca.key': base64(pair.ca.key),
    'tls.crt': base64(pair.leaf.cert),
    'tls.key': base64(pair.leaf.key),
  };
}

function pairOf(secret: Secret): StoredPair {
  return {
    ca: { cert: text(secret, 'ca.crt'), key: text(secret, 'ca.key') },
    leaf: { cert: text(secret, 'tls.crt'), key: text(secret, 'tls.key') },
  };
}
