import type { Secret } from '@chousei/runtime';
import type { Certificate } from '../../api/types.js';
import { unseenSecretNeed } from '../ownership.js';
import {
  type BackoffPolicy,
  type IssuanceNeed,
  MANUAL_TRIGGER_REASON,
  manualIssuanceRequest,
  retryTime,
  secretNeed,
} from '../policy.js';
import type { SecretContents } from '../secret.js';

/**
 * Whether an issuance is due, and why (cert-manager's trigger): the Secret as read
 * (`contents`) against the spec, a Secret never seen, or a renewal asked for by hand.
 */
export function issuanceTrigger(
  cert: Certificate,
  secret: Secret | undefined,
  contents: SecretContents,
  now: Date,
): IssuanceNeed | undefined {
  const need = secret ? secretNeed(cert, secret, contents, now) : unseenSecretNeed(cert);
  return need ?? manualIssuanceRequest(cert);
}

/**
 * Ms to wait before issuing after failures (exponential backoff), 0 to issue now: a spec
 * changed since starts over, and an issuance asked for by hand never waits.
 */
export function backoffWait(
  cert: Certificate,
  need: IssuanceNeed,
  backoff: BackoffPolicy,
  now: Date,
): number {
  if (need.reason === MANUAL_TRIGGER_REASON) return 0;
  const retryAt = retryTime(cert, backoff)?.getTime() ?? 0;
  return Math.max(0, retryAt - now.getTime());
}
