import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@chousei/runtime/testing';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';

// Run as `pnpm sandbox` runs it: Node strips the types itself.
const sandbox = fileURLToPath(new URL('../src/sandbox.ts', import.meta.url));

interface Run {
  child: ChildProcess;
  /** stdout and stderr, interleaved as written. */
  output(): string;
  exited: Promise<{ code: number | null; ms: number }>;
}

function start(args: string[]): Run {
  const started = performance.now();
  const child = spawn(process.execPath, [sandbox, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit').then(([code]) => ({
    code: code as number | null,
    ms: performance.now() - started,
  }));
  return { child, output: () => output, exited };
}

describe('pnpm sandbox', () => {
  let run: Run | undefined;
  afterEach(() => {
    run?.child.kill('SIGKILL');
  });
  beforeEach(() => {
    onTestFailed(() => {
      console.log(`sandbox output:\n${run?.output()}`);
    });
  });

  it('--exit-after-demo: shows the DNS answers and verified certificates of the Ingress and the Gateway paths, exits 0 within 60 s', async () => {
    // Its own deadline, well inside the test's: a stuck demo says what it waits for.
    run = start(['--exit-after-demo', '--timeout', '60']);
    const { code, ms } = await run.exited;
    const out = run.output();
    console.log(`sandbox --exit-after-demo: exit ${code} after ${(ms / 1000).toFixed(1)} s`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(60_000);
    // Plain lines off a terminal: each step once started, once done.
    expect(out).toMatch(/^✔ control plane \(etcd, kube-apiserver\) \(\d+\.\d s\)$/m);
    expect(out).toMatch(/^ {2}event .* Ingress\/web {2}Normal Published {2}dns-operator: /m);
    expect(out).toMatch(/^ {2}event .* Certificate\/web-tls {2}Normal Issued {2}cert-operator: /m);
    expect(out).toMatch(/^ {2}event .* HTTPRoute\/shop {2}Normal Published {2}dns-operator: /m);
    expect(out).toMatch(
      /^ {2}event .* Gateway\/edge {2}Normal CreateCertificate {2}cert-operator: /m,
    );
    expect(out).toMatch(/^ {2}event .* Certificate\/shop-tls {2}Normal Issued {2}cert-operator: /m);
    expect(out).toMatch(/^ {2}DNS names {2}web\.chousei\.test$/m);
    expect(out).toMatch(/^Certificate gateways\/shop-tls /m);
    expect(out).toMatch(/^ {2}DNS names {2}shop\.chousei\.test$/m);
    expect(out).toMatch(/^ {2}issuer {5}CN=Pebble Intermediate CA/m);
    expect(out).toMatch(/^ {2}chain verified against Pebble root \(CN=Pebble Root CA/m);
    expect(out).toMatch(/^ {2}web\.chousei\.test\. A 127\.0\.0\.1$/m);
    expect(out).toMatch(/^ {2}shop\.chousei\.test\. A 127\.0\.0\.1$/m);
    expect(out).toMatch(/^Demo done in \d+\.\d s\.$/m);
  });

  it('keeps running with a kubeconfig to use, and on SIGTERM stops everything and removes its files', async () => {
    run = start([]);
    const r = run;
    await waitFor(() => r.output().includes('Press Ctrl-C'), {
      timeoutMs: 60_000,
      description: 'the sandbox waiting for Ctrl-C',
    });
    const out = r.output();
    const kubeconfig = /^ {2}export KUBECONFIG=(\S+)$/m.exec(out)?.[1];
    const log = /^Operator logs: (\S+)$/m.exec(out)?.[1];
    expect(kubeconfig && existsSync(kubeconfig)).toBe(true);
    expect(log && existsSync(log)).toBe(true);
    expect(out).toMatch(/^ {2}alias kubectl=\S+\/kubectl$/m);

    r.child.kill('SIGTERM');
    const { code } = await r.exited;
    expect(code).toBe(0);
    expect(existsSync(dirname(kubeconfig!))).toBe(false);
    expect(existsSync(dirname(log!))).toBe(false);
  });

  it('--cluster --exit-after-demo: the images installed with helm on a cluster, and nothing of it left after', async () => {
    run = start(['--cluster', '--exit-after-demo']);
    const { code, ms } = await run.exited;
    const out = run.output();
    console.log(
      `sandbox --cluster --exit-after-demo: exit ${code} after ${(ms / 1000).toFixed(1)} s`,
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^✔ cert-operator image \(buildah, its Dockerfile\) \(\d+\.\d s\)$/m);
    expect(out).toMatch(/^✔ helm install dns-operator, cert-operator \(Deployments Ready\) /m);
    expect(out).toMatch(/^ {2}event .* Certificate\/web-tls {2}Normal Issued {2}cert-operator: /m);
    expect(out).toMatch(/^ {2}chain verified against Pebble root \(CN=Pebble Root CA/m);
    expect(out).toMatch(/^ {2}web\.chousei\.test\. A 10\.88\.0\.80$/m);
    // The node's network namespace is named after the sandbox's process: gone with it.
    const { stdout } = await promisify(execFile)('ip', ['netns', 'list']);
    expect(stdout).not.toContain(`chousei-${run.child.pid}-`);
    // Building the images (when the cluster e2e has not) takes minutes.
  }, 900_000);
});
