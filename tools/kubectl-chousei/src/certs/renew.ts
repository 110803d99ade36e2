import {
  type Certificate,
  Certificates,
  ENV_PREFIX,
  MANUAL_TRIGGER_REASON,
} from '@chousei/cert-operator';
import {
  ConfigError,
  type ObjectKey,
  setCondition,
  sleep,
  updateWithRetry,
} from '@chousei/runtime';
import {
  CliError,
  type Command,
  connect,
  explain,
  KUBE_FLAGS,
  type Kube,
  parseCommand,
  printJson,
} from '../cli.js';

const FLAGS = {
  ...KUBE_FLAGS,
  all: { type: 'boolean', default: false, help: 'Every Certificate in the namespace' },
  'all-namespaces': {
    type: 'boolean',
    short: 'A',
    default: false,
    help: 'With --all: in every namespace',
  },
  selector: {
    type: 'string',
    short: 'l',
    help: 'With --all: only Certificates matching this label selector',
  },
  wait: {
    type: 'boolean',
    default: false,
    help: 'Wait until the operator has issued (or failed to)',
  },
  timeout: { type: 'string', default: '5m', help: 'How long --wait waits' },
} as const;

const USAGE = `Usage: kubectl chousei certs renew NAME... [-n NAMESPACE] [flags]
       kubectl chousei certs renew --all [-A] [-l SELECTOR] [flags]

Asks the cert-operator to issue again now, as cert-manager's cmctl renew does: sets the
Certificate's Issuing condition to True with reason ${MANUAL_TRIGGER_REASON} (status
subresource; needs update on certificates/status). The operator issues even when the
Secret is fine and skips any backoff. A Certificate already being issued is left alone.`;

export interface RenewResult {
  namespace: string;
  name: string;
  /** False: it was already being issued, nothing was asked. */
  requested: boolean;
  alreadyIssuing?: string;
  /** With --wait: what came of it. */
  issued?: { revision: number; notAfter?: string };
  failed?: string;
}

export const certsRenew: Command = {
  name: 'certs renew',
  summary: 'Trigger a re-issuance now (like cmctl renew)',
  async run(argv, env) {
    const cmd = parseCommand(FLAGS, ENV_PREFIX, argv, env, USAGE, {
      min: 0,
      max: Number.POSITIVE_INFINITY,
      names: 'NAME...',
    });
    if (cmd.helped) return 0;
    const all = cmd.flags.bool('all');
    if (all === cmd.operands.length > 0)
      throw new ConfigError('give either Certificate names or --all (see --help)');
    if (!all && (cmd.flags.bool('all-namespaces') || cmd.flags.str('selector')))
      throw new ConfigError('-A and -l go with --all (see --help)');
    const timeoutMs = cmd.flags.duration('timeout');
    const kube = connect(cmd.flags);

    const targets: Certificate[] = all
      ? await kube.client
          .list(Certificates, {
            ...(cmd.flags.bool('all-namespaces') ? {} : { namespace: kube.namespace }),
            ...(cmd.flags.str('selector') ? { labelSelector: cmd.flags.str('selector') } : {}),
          })
          .catch((err: unknown) => explain(err, 'listing certificates'))
      : // Every name is checked before anything is asked: a typo renews nothing.
        await Promise.all(
          cmd.operands.map((name) =>
            kube.client
              .get(Certificates, { namespace: kube.namespace, name })
              .catch((err: unknown) => explain(err, `certificate ${kube.namespace}/${name}`)),
          ),
        );

    const results: RenewResult[] = [];
    for (const cert of targets) {
      const key = { namespace: cert.metadata?.namespace ?? '', name: cert.metadata?.name ?? '' };
      const result = await requestRenewal(kube, key);
      if (!cmd.json) process.stdout.write(`${describe(result)}\n`);
      results.push(result);
    }
    if (cmd.flags.bool('wait')) {
      const deadline = Date.now() + timeoutMs;
      for (const [i, result] of results.entries()) {
        const before = targets[i]?.status?.revision ?? 0;
        Object.assign(result, await waitForIssuance(kube, result, before, deadline));
        if (!cmd.json) process.stdout.write(`${describe(result)}\n`);
      }
    }
    if (cmd.json) printJson(results);
    if (all && !results.length && !cmd.json) process.stdout.write('no Certificates found\n');
    return results.some((r) => r.failed) ? 1 : 0;
  },
};

/** Sets Issuing=True/ManuallyTriggered unless an issuance is already under way. */
async function requestRenewal(kube: Kube, key: ObjectKey): Promise<RenewResult> {
  const result: RenewResult = { namespace: key.namespace ?? '', name: key.name, requested: true };
  await updateWithRetry(
    kube.client,
    Certificates,
    key,
    (cert) => {
      const issuing = cert.status?.conditions?.find((c) => c.type === 'Issuing');
      if (issuing?.status === 'True') {
        result.requested = false;
        result.alreadyIssuing = issuing.reason;
        return false;
      }
      result.requested = true;
      delete result.alreadyIssuing;
      cert.status = {
        ...cert.status,
        conditions: setCondition(cert.status?.conditions, {
          type: 'Issuing',
          status: 'True',
          reason: MANUAL_TRIGGER_REASON,
          message: 'Certificate re-issuance manually triggered',
          observedGeneration: cert.metadata?.generation,
        }).conditions,
      };
      return true;
    },
    { status: true },
  ).catch((err: unknown) => explain(err, `certificate ${key.namespace}/${key.name}`));
  return result;
}

/** Polls until Issuing is no longer True: a higher revision is success, anything else not. */
async function waitForIssuance(
  kube: Kube,
  result: RenewResult,
  revisionBefore: number,
  deadline: number,
): Promise<Pick<RenewResult, 'issued' | 'failed'>> {
  const key = { namespace: result.namespace, name: result.name };
  for (;;) {
    const cert = await kube.client
      .get(Certificates, key)
      .catch((err: unknown) => explain(err, `certificate ${key.namespace}/${key.name}`));
    const issuing = cert.status?.conditions?.find((c) => c.type === 'Issuing');
    const revision = cert.status?.revision ?? 0;
    if (issuing?.status !== 'True' && revision > revisionBefore) {
      return {
        issued: {
          revision,
          ...(cert.status?.notAfter ? { notAfter: cert.status.notAfter } : {}),
        },
      };
    }
    if (issuing?.status === 'False' && issuing.reason === 'Failed') {
      return { failed: issuing.message };
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `certificate ${key.namespace}/${key.name}: not issued before the --timeout (Issuing: ${issuing?.status ?? 'unset'} ${issuing?.reason ?? ''}); is the operator running?`,
      );
    }
    await sleep(500);
  }
}

function describe(r: RenewResult): string {
  const name = `certificate ${r.namespace}/${r.name}`;
  if (r.issued)
    return `${name}: issued revision ${r.issued.revision}${r.issued.notAfter ? `, valid until ${r.issued.notAfter}` : ''}`;
  if (r.failed) return `${name}: issuance failed: ${r.failed}`;
  if (!r.requested) return `${name}: already being issued (${r.alreadyIssuing}), left alone`;
  return `${name}: re-issuance requested`;
}
