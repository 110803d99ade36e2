import {
  type CertificateInfo,
  type ChainVerification,
  ENV_PREFIX,
  GROUP,
  inspectCertificate,
  keyMatchesCertificate,
  secretValue,
  splitPem,
  verifyChain,
} from '@chousei/cert-operator';
import { Secrets } from '@chousei/runtime';
import {
  CliError,
  type Command,
  connect,
  explain,
  KUBE_FLAGS,
  parseCommand,
  printJson,
} from '../cli.js';
import { fields, rfc3339, when } from '../output.js';

const USAGE = `Usage: kubectl chousei certs inspect SECRET [-n NAMESPACE] [flags]

Decodes the certificate in a TLS Secret: subject, names, issuer, serial, validity, key
type, each certificate of the chain, whether the chain verifies against ca.crt, whether
tls.key belongs to it, and the ${GROUP} annotations the operator wrote.`;

export interface InspectReport {
  namespace: string;
  name: string;
  type: string;
  /** The leaf, then the rest of the chain in tls.crt. */
  chain: Array<
    Omit<CertificateInfo, 'notBefore' | 'notAfter'> & { notBefore: string; notAfter: string }
  >;
  /** Against ca.crt; absent when the Secret has none. */
  chainVerification?: ChainVerification;
  /** Whether tls.key is the leaf's key; absent when the Secret has no tls.key. */
  keyMatches?: boolean;
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

export const certsInspect: Command = {
  name: 'certs inspect',
  summary: 'Decode the certificate in a TLS Secret',
  async run(argv, env) {
    const cmd = parseCommand(KUBE_FLAGS, ENV_PREFIX, argv, env, USAGE, {
      min: 1,
      max: 1,
      names: 'SECRET',
    });
    if (cmd.helped) return 0;
    const kube = connect(cmd.flags);
    const name = cmd.operands[0]!;
    const what = `secret ${kube.namespace}/${name}`;
    const secret = await kube.client
      .get(Secrets, { namespace: kube.namespace, name })
      .catch((err: unknown) => explain(err, what));
    const crt = secretValue(secret, 'tls.crt');
    if (!crt) throw new CliError(`${what} has no tls.crt`);
    const blocks = splitPem(crt);
    if (!blocks.length) throw new CliError(`${what}: tls.crt holds no PEM certificate`);
    const chain = blocks.map((pem, i) => {
      try {
        const info = inspectCertificate(pem);
        return { ...info, notBefore: rfc3339(info.notBefore), notAfter: rfc3339(info.notAfter) };
      } catch (err) {
        throw new CliError(`${what}: certificate ${i + 1} of tls.crt: ${(err as Error).message}`);
      }
    });
    const ca = secretValue(secret, 'ca.crt');
    const key = secretValue(secret, 'tls.key');
    let keyMatches: boolean | undefined;
    if (key) {
      try {
        keyMatches = keyMatchesCertificate(key, crt);
      } catch {
        keyMatches = false;
      }
    }
    const prefix = `${GROUP}/`;
    const ours = (m: Record<string, string> | undefined) =>
      Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k.startsWith(prefix)));
    const report: InspectReport = {
      namespace: kube.namespace,
      name,
      type: secret.type ?? '',
      chain,
      ...(ca ? { chainVerification: verifyChain(crt, ca) } : {}),
      ...(keyMatches === undefined ? {} : { keyMatches }),
      annotations: ours(secret.metadata?.annotations),
      labels: ours(secret.metadata?.labels),
    };
    if (cmd.json) printJson(report);
    else process.stdout.write(renderInspect(report, new Date()));
    return 0;
  },
};

export function renderInspect(r: InspectReport, now: Date): string {
  const [leaf, ...rest] = r.chain;
  const out: string[] = [`Secret ${r.namespace}/${r.name} (${r.type || 'no type'})`];
  if (leaf) {
    const key = leaf.keyAlgorithm;
    out.push(
      fields(
        [
          ['Subject', leaf.subject || '(empty)'],
          ['DNS names', leaf.dnsNames.join(', ') || '-'],
          ['IP addresses', leaf.ipAddresses.join(', ') || '-'],
          ['Issuer', leaf.issuer || '(empty)'],
          ['Serial', leaf.serialNumber],
          ['Not before', when(new Date(leaf.notBefore), now)],
          ['Not after', when(new Date(leaf.notAfter), now)],
          ['Key', `${key.algorithm}${key.size ? ` ${key.size}` : ''}`],
          ['Usages', leaf.usages.join(', ') || '-'],
          ['CA', leaf.isCA ? 'yes' : 'no'],
          ['SHA-256', leaf.fingerprintSha256],
          [
            'Chain',
            `${r.chain.length} certificate${r.chain.length === 1 ? '' : 's'} in tls.crt${
              r.chainVerification
                ? r.chainVerification.valid
                  ? ', verifies against ca.crt'
                  : `, does NOT verify against ca.crt: ${r.chainVerification.reason}`
                : ', no ca.crt to verify against'
            }`,
          ],
          [
            'Private key',
            r.keyMatches === undefined
              ? 'no tls.key'
              : r.keyMatches
                ? 'tls.key matches the certificate'
                : 'tls.key does NOT match the certificate',
          ],
        ],
        '  ',
      ),
    );
  }
  rest.forEach((c, i) => {
    out.push(`Chain certificate ${i + 2}:`);
    out.push(
      fields(
        [
          ['Subject', c.subject || '(empty)'],
          ['Issuer', c.issuer || '(empty)'],
          ['Not after', when(new Date(c.notAfter), now)],
        ],
        '  ',
      ),
    );
  });
  const notes = { ...r.labels, ...r.annotations };
  out.push(
    Object.keys(notes).length ? 'Annotations and labels:' : 'Annotations: none of the operator',
  );
  for (const [k, v] of Object.entries(notes)) out.push(`  ${k}=${v}`);
  return `${out.join('\n')}\n`;
}
