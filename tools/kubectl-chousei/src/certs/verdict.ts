// One line on where a Certificate stands and, when it is not Ready, what holds it.
import { isSelfCheckMessage, NOT_ISSUED_REASONS } from '@chousei/cert-operator';
import type { Condition } from '@chousei/runtime';
import { relative, when } from '../output.js';
import type { OrderDetails } from './acme.js';

export type VerdictState = 'Ready' | 'Issuing' | 'Waiting' | 'Stuck' | 'Deleting';

export interface Verdict {
  state: VerdictState;
  message: string;
}

/** What the verdict is derived from: the facts `certs status` gathered. */
export interface Facts {
  now: Date;
  deleting: boolean;
  conditions: Condition[];
  /** `Issuer default/self`. */
  issuerName: string;
  issuerFound: boolean;
  issuerReady?: Condition;
  /** Why the Secret needs issuing (missing, mismatch, renewal due); undefined: it is fine. */
  secretNeed?: string;
  /** The Secret could not be read (forbidden): its state is unknown. */
  secretUnknown?: boolean;
  renewalTime?: Date;
  failedAttempts: number;
  /** The backoff end, when it holds issuance back. */
  retryAt?: Date;
  manualRequest: boolean;
  acmeOrderUrl?: string;
  order?: OrderDetails;
  orderUnavailable?: string;
}

export function verdict(f: Facts): Verdict {
  const cond = (type: string) => f.conditions.find((c) => c.type === type);
  const ready = cond('Ready');
  const issuing = cond('Issuing');
  const lastFailure = ready?.status === 'False' ? `: ${ready.reason}: ${ready.message}` : '';

  if (f.deleting) {
    return { state: 'Deleting', message: 'the Certificate is being deleted' };
  }
  if (!f.secretNeed && !f.manualRequest && !f.secretUnknown && ready?.status === 'True') {
    const renews = f.renewalTime ? `; renews ${relative(f.renewalTime, f.now)}` : '';
    return { state: 'Ready', message: `the certificate is up to date${renews}` };
  }
  // The operator's own word first: it knows what it does not serve (e.g. ClusterIssuers
  // under --namespace), where the issuer's absence or silence would only be a guess here,
  // and what it refuses before asking an issuer (a bad spec, a Secret that is not its own, a
  // name no DomainPolicy gives the namespace).
  const refused =
    ready?.reason === 'IssuerNotFound' || NOT_ISSUED_REASONS.includes(ready?.reason ?? '');
  if (ready?.status === 'False' && refused && ready.message) {
    return { state: 'Stuck', message: ready.message };
  }
  if (!f.issuerFound) {
    return { state: 'Stuck', message: `${f.issuerName} not found` };
  }
  if (f.issuerReady?.status !== 'True') {
    const why = f.issuerReady
      ? `${f.issuerReady.reason}: ${f.issuerReady.message}`
      : 'it has no Ready condition yet (is the operator running?)';
    return { state: 'Stuck', message: `${f.issuerName} is not Ready: ${why}` };
  }
  if (f.retryAt && f.retryAt > f.now && !f.manualRequest) {
    return {
      state: 'Stuck',
      message: `backing off after ${f.failedAttempts} failed attempt${f.failedAttempts === 1 ? '' : 's'} until ${when(f.retryAt, f.now)}${lastFailure}`,
    };
  }
  if (f.order) return orderVerdict(f.order, issuing);
  if (f.acmeOrderUrl) {
    return {
      state: 'Waiting',
      message: `ACME order ${f.acmeOrderUrl} in progress (details unavailable: ${f.orderUnavailable ?? 'not read'})`,
    };
  }
  if (f.manualRequest) {
    return { state: 'Issuing', message: 're-issuance requested by hand, not done yet' };
  }
  if (issuing?.status === 'True') {
    return {
      state: 'Issuing',
      message: `issuance in progress (${issuing.reason}: ${issuing.message})`,
    };
  }
  if (f.secretNeed) {
    return {
      state: 'Waiting',
      message: `${f.secretNeed}, and no issuance is in progress (is the operator running?)`,
    };
  }
  if (f.secretUnknown && ready?.status === 'True') {
    return { state: 'Ready', message: 'Ready (the Secret could not be read to confirm it)' };
  }
  if (ready?.status === 'False') {
    return { state: 'Stuck', message: `not Ready${lastFailure}` };
  }
  return { state: 'Waiting', message: 'the operator has not reported on this Certificate yet' };
}

/** Where an ACME order the CA reports stands: what failed, or what it waits for. */
function orderVerdict(order: OrderDetails, issuing: Condition | undefined): Verdict {
  if (order.status === 'invalid') {
    return {
      state: 'Stuck',
      message: `ACME order is invalid${order.error ? `: ${order.error}` : ''}`,
    };
  }
  for (const authz of order.authorizations) {
    const failed = authz.challenges.find((c) => c.status === 'invalid');
    if (authz.status === 'invalid' || failed) {
      return {
        state: 'Stuck',
        message: `ACME ${failed ? `challenge ${failed.type}` : 'authorization'} for ${authz.identifier} failed${failed?.error ? `: ${failed.error}` : ''}`,
      };
    }
  }
  const pending = order.authorizations.find((a) => a.status === 'pending');
  if (pending) {
    // RFC 8555 says `processing`; Pebble keeps `pending` and dates `validated` when it starts.
    const active = pending.challenges.find(
      (c) => c.status === 'processing' || (c.status === 'pending' && c.validated),
    );
    // Before asking the CA, the operator checks the challenge itself: its message says why.
    const selfCheck =
      issuing?.status === 'True' && isSelfCheckMessage(issuing.message ?? '')
        ? issuing.message
        : undefined;
    return {
      state: 'Waiting',
      message: active
        ? `ACME challenge ${active.type} for ${pending.identifier} is being validated`
        : (selfCheck ??
          `ACME challenge for ${pending.identifier} is pending (offered: ${pending.challenges.map((c) => c.type).join(', ')})`),
    };
  }
  return { state: 'Waiting', message: `ACME order is ${order.status}` };
}
