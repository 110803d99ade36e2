import { readFile } from 'node:fs/promises';
import type { Ingress, Secret } from '@chousei/runtime';
import { waitFor } from '@chousei/runtime/testing';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type Stack, type StackOptions, startStack } from '../src/stack.ts';

/**
 * The whole world for one test file: started before its tests, stopped after them. When a
 * test fails, the operators' logs are kept and their last lines printed.
 */
export function useStack(opts: StackOptions = {}): () => Stack {
  let stack: Stack | undefined;
  let failed = false;
  beforeAll(async () => {
    stack = await startStack(opts);
  });
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (failed && stack) {
      for (const op of [stack.dnsOperator, stack.certOperator]) {
        const lines = (await readFile(op.logFile, 'utf8')).trimEnd().split('\n').slice(-40);
        console.error(`--- ${op.name} (${op.logFile}), last lines:\n${lines.join('\n')}`);
      }
    }
    // CHOUSEI_E2E_KEEP_LOGS=1 keeps them after a passing run too.
    const keepLogs = failed || !!process.env.CHOUSEI_E2E_KEEP_LOGS;
    if (keepLogs && stack) console.error(`operator logs kept in ${stack.dir}`);
    await stack?.stop({ keepLogs });
  });
  return () => {
    if (!stack) throw new Error('the stack did not start');
    return stack;
  };
}

/**
 * Waits for `host`'s A record in BIND9, and expects it to point at 127.0.0.1 with an
 * ownership TXT naming `resource` (`ingress/NAMESPACE/NAME`), as external-dns writes it.
 */
export async function expectPublished(s: Stack, host: string, resource: string): Promise<void> {
  await waitFor(async () => (await s.bind.dig(host, 'A')).length > 0, {
    timeoutMs: 20_000,
    description: `A record of ${host}`,
  });
  expect(await s.bind.dig(host, 'A')).toEqual(['127.0.0.1']);
  expect(await s.bind.dig(`a-${host}`, 'TXT')).toEqual([
    `"heritage=external-dns,external-dns/owner=${s.ownerId},external-dns/resource=${resource}"`,
  ]);
}

/** Waits until `host` has neither its A record nor its ownership TXT in BIND9. */
export function recordsRemoved(s: Stack, host: string): Promise<unknown> {
  return waitFor(
    async () =>
      (await s.bind.dig(host, 'A')).length === 0 &&
      (await s.bind.dig(`a-${host}`, 'TXT')).length === 0,
    { timeoutMs: 20_000, description: `records of ${host} removed` },
  );
}

/** A Secret's value as text. */
export const text = (s: Secret, key: string) =>
  Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');

/**
 * An Ingress for `host` (backend Service web:80) with a TLS entry in Secret `NAME-tls`, and
 * cert-manager's annotation naming the ClusterIssuer `issuer`, unchanged: migrating is a no-op.
 */
export function certifiedIngress(
  namespace: string,
  name: string,
  host: string,
  issuer: string,
): Ingress {
  return {
    metadata: { name, namespace, annotations: { 'cert-manager.io/cluster-issuer': issuer } },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'web', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
      tls: [{ hosts: [host], secretName: `${name}-tls` }],
    },
  };
}
