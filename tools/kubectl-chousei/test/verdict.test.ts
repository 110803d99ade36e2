import { selfCheckPrefix } from '@chousei/cert-operator';
import type { Condition } from '@chousei/runtime';
import { describe, expect, it } from 'vitest';
import { type Facts, verdict } from '../src/certs/verdict.js';
import { relative, shortDuration } from '../src/output.js';

const now = new Date('2030-01-01T00:00:00Z');
const cond = (type: string, status: Condition['status'], reason: string, message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2029-12-31T00:00:00Z',
});
const facts = (extra: Partial<Facts> = {}): Facts => ({
  now,
  deleting: false,
  conditions: [],
  issuerName: 'Issuer ns/le',
  issuerFound: true,
  issuerReady: cond('Ready', 'True', 'ACMEAccountRegistered'),
  secretNeed: 'the Secret needs issuing (DoesNotExist: ...)',
  failedAttempts: 0,
  manualRequest: false,
  ...extra,
});

describe('verdict', () => {
  it('is Ready when the Secret is fine, with the renewal', () => {
    expect(
      verdict(
        facts({
          secretNeed: undefined,
          conditions: [cond('Ready', 'True', 'Ready')],
          renewalTime: new Date('2030-01-04T01:00:00Z'),
        }),
      ),
    ).toEqual({ state: 'Ready', message: 'the certificate is up to date; renews in 3d1h' });
  });

  it('puts the issuer first, then the backoff, then the ACME order', () => {
    expect(
      verdict(facts({ issuerReady: cond('Ready', 'False', 'RegistrationFailed', 'no') })),
    ).toEqual({ state: 'Stuck', message: 'Issuer ns/le is not Ready: RegistrationFailed: no' });
    // An operator serving one namespace says why it ignores a ClusterIssuer that exists.
    const notServed = 'ClusterIssuer le not used: ClusterIssuers are not served with --namespace';
    expect(
      verdict(
        facts({
          issuerReady: undefined,
          conditions: [cond('Ready', 'False', 'IssuerNotFound', notServed)],
        }),
      ),
    ).toEqual({ state: 'Stuck', message: notServed });
    // So does one refused by a DomainPolicy, whatever the Secret holds.
    const refused =
      'not issued from ClusterIssuer le: spec.dnsNames[0]: a.example.com: no DomainPolicy selects namespace ns';
    expect(
      verdict(
        facts({
          secretNeed: undefined,
          conditions: [cond('Ready', 'False', 'DomainNotAllowed', refused)],
        }),
      ),
    ).toEqual({ state: 'Stuck', message: refused });
    // So it does for what it refuses before asking any issuer, even one that is not Ready.
    const inUse = 'Secret web-tls is kept by Certificate web, the oldest Certificate naming it';
    expect(
      verdict(
        facts({
          issuerReady: cond('Ready', 'False', 'RegistrationFailed', 'no'),
          conditions: [cond('Ready', 'False', 'SecretInUse', inUse)],
        }),
      ),
    ).toEqual({ state: 'Stuck', message: inUse });
    const backoff = facts({
      failedAttempts: 1,
      retryAt: new Date('2030-01-01T00:30:00Z'),
      conditions: [cond('Ready', 'False', 'OrderFailed', 'order invalid')],
      acmeOrderUrl: 'https://acme/order/1',
    });
    expect(verdict(backoff).message).toBe(
      'backing off after 1 failed attempt until 2030-01-01T00:30:00Z (in 30m): OrderFailed: order invalid',
    );
    // A manual request skips the backoff, as the operator does.
    expect(verdict({ ...backoff, manualRequest: true }).message).toMatch(/^ACME order https/);
  });

  it('reads the order: a failed challenge, a challenge being validated, an order to finalize', () => {
    const order = (status: string, challenge: string, error?: string, validated?: string) =>
      facts({
        acmeOrderUrl: 'u',
        order: {
          url: 'u',
          status,
          authorizations: [
            {
              identifier: '*.example.test',
              status: challenge === 'invalid' ? 'invalid' : 'pending',
              challenges: [
                {
                  type: 'dns-01',
                  status: challenge,
                  url: 'c',
                  ...(error ? { error } : {}),
                  ...(validated ? { validated } : {}),
                },
              ],
            },
          ],
        },
      });
    expect(verdict(order('invalid', 'invalid', 'NXDOMAIN (dns)')).message).toBe(
      'ACME order is invalid',
    );
    expect(verdict(order('pending', 'invalid', 'NXDOMAIN (dns)'))).toEqual({
      state: 'Stuck',
      message: 'ACME challenge dns-01 for *.example.test failed: NXDOMAIN (dns)',
    });
    expect(verdict(order('pending', 'processing')).message).toBe(
      'ACME challenge dns-01 for *.example.test is being validated',
    );
    expect(verdict(order('pending', 'pending', undefined, '2029-12-31T23:59:00Z')).message).toBe(
      'ACME challenge dns-01 for *.example.test is being validated',
    );
    // Not offered to the CA yet: the operator's own check of the challenge says why.
    const waiting = `${selfCheckPrefix('HTTP-01')} http://a.example.test/.well-known/acme-challenge/t: DNS NXDOMAIN`;
    const selfChecking = order('pending', 'pending');
    selfChecking.conditions = [cond('Issuing', 'True', 'DoesNotExist', waiting)];
    expect(verdict(selfChecking)).toEqual({ state: 'Waiting', message: waiting });
    const ready = facts({
      acmeOrderUrl: 'u',
      order: { url: 'u', status: 'ready', authorizations: [] },
    });
    expect(verdict(ready)).toEqual({ state: 'Waiting', message: 'ACME order is ready' });
  });

  it('tells a pending manual renewal and an issuance in progress apart', () => {
    expect(verdict(facts({ secretNeed: undefined, manualRequest: true })).message).toBe(
      're-issuance requested by hand, not done yet',
    );
    expect(
      verdict(facts({ conditions: [cond('Issuing', 'True', 'Renewing', 'renewal was due')] })),
    ).toEqual({ state: 'Issuing', message: 'issuance in progress (Renewing: renewal was due)' });
    expect(verdict(facts({ deleting: true })).state).toBe('Deleting');
  });
});

describe('durations', () => {
  it('prints the two largest units, as kubectl ages', () => {
    expect(shortDuration(0)).toBe('0s');
    expect(shortDuration(59_400)).toBe('59s');
    expect(shortDuration(3_600_000 + 5_000)).toBe('1h');
    expect(shortDuration(90 * 86_400_000 + 7_200_000)).toBe('90d2h');
    expect(relative(new Date(now.getTime() - 61_000), now)).toBe('1m1s ago');
  });
});
