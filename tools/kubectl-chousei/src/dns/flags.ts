import { FLAGS as OPERATOR_FLAGS } from '@chousei/dns-operator';
import { createLogger, type Flags, type Logger } from '@chousei/runtime';
import { KUBE_FLAGS } from '../cli.js';

export { ENV_PREFIX } from '@chousei/dns-operator';

/** The operator's log lines would bury the answer: on stderr, and only when asked for. */
export function commandLogger(flags: Flags<typeof DNS_FLAGS>, level: string): Logger {
  return createLogger({
    level: flags.given('log-level') ? level : 'silent',
    name: 'kubectl-chousei',
    destination: process.stderr,
  });
}

/**
 * The dns-operator's own flags (and CHOUSEI_DNS_* variables), so a command sees the
 * cluster and provider exactly as an operator run with the same flags does, plus kubectl's.
 * `-n` is the operator's --namespace: only objects there (default: every namespace).
 */
export const DNS_FLAGS = {
  ...OPERATOR_FLAGS,
  namespace: { ...OPERATOR_FLAGS.namespace, short: 'n' },
  context: KUBE_FLAGS.context,
  output: KUBE_FLAGS.output,
  help: KUBE_FLAGS.help,
  'log-level': {
    ...OPERATOR_FLAGS['log-level'],
    help: "Level of the operator's log lines (JSON, on stderr); they are shown only when this is given: debug | info | warn | error",
  },
  timeout: {
    type: 'string',
    default: '2m',
    help: 'Give up when the cluster or provider has not answered within this time',
  },
} as const;
