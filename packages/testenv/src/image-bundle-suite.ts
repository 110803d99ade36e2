// The image without Docker: the bundle the Dockerfile copies into its final stage,
// assembled by the same scripts/bundle.sh, must run on its own and hold no devDependency.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleBundle,
  type Bundle,
  DEV_ONLY_PACKAGES,
  dockerfileFacts,
  renderDockerfile,
} from './image-bundle.js';
import { freePort } from './ports.js';
import { sharedCluster } from './shared-cluster.js';

export interface ImageBundleSuiteOptions {
  /** The operator's package directory (its Dockerfile, dist/main.js). */
  operatorDir: string;
  /** The command name `--help` shows. */
  command: string;
  /** Flags `--help` must list. */
  flags: string[];
  /** Workspace packages that must be in the bundle as built dist, e.g. `@chousei/runtime`. */
  workspaceDeps: string[];
  /** Bound on the bundle's bytes (measured, plus margin: a leaked dev tool adds 20-40 MB). */
  maxMb: number;
  /** Flags the operator needs to start beside a kubeconfig and ports (e.g. its provider). */
  startArgs?: () => string[] | Promise<string[]>;
  /** CRDs its informers need before it is ready. */
  crds?: KubernetesObject[];
}

/** The checks every operator's image bundle passes. */
export function imageBundleSuite(opts: ImageBundleSuiteOptions): void {
  const { operatorDir, command } = opts;
  describe('image bundle (scripts/bundle.sh, as the Dockerfile runs it)', () => {
    let bundle: Bundle;
    beforeAll(async () => {
      bundle = await assembleBundle(operatorDir);
    }, 120_000);
    afterAll(() => bundle?.remove());

    it('runs --help from the bundle alone, as the workspace build does', async () => {
      const r = await bundle.run(['--help']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: ${command}`);
      for (const flag of opts.flags) expect(r.stdout).toContain(`  ${flag}`);
      const workspace = await promisify(execFile)(
        process.execPath,
        [join(operatorDir, 'dist/main.js'), '--help'],
        { env: { PATH: '/usr/bin:/bin' } },
      );
      expect(r.stdout).toBe(workspace.stdout);
    });

    it('holds production dependencies only, workspace packages as built dist', async () => {
      expect(DEV_ONLY_PACKAGES.filter((name) => bundle.packages.has(name))).toEqual([]);
      for (const pkg of opts.workspaceDeps) {
        expect(bundle.packages).toContain(pkg);
        const files = await readdir(join(bundle.dir, 'node_modules', pkg));
        expect(files).toContain('dist');
        expect(files).not.toContain('src');
      }
      expect(bundle.escapingLinks).toEqual([]);
      // The runtime loads kubeconfig itself: client-node (62 MB) stays out of the image.
      expect(bundle.packages).not.toContain('@kubernetes/client-node');
    });

    it('runs from the bundle alone against a real API server, ready, and stops on SIGTERM', async () => {
      await runAgainstApiServer(bundle, opts);
    });

    it(`stays under ${opts.maxMb} MB`, () => {
      const mb = bundle.bytes / 1e6;
      console.log(`${command} bundle: ${mb.toFixed(1)} MB (du: ${bundle.du})`);
      expect(mb).toBeLessThan(opts.maxMb);
    });

    it('ships the Dockerfile scripts/operator.Dockerfile renders (scripts/generate-deploy.mjs)', async () => {
      const shipped = await readFile(join(operatorDir, 'Dockerfile'), 'utf8');
      expect(shipped).toBe(await renderDockerfile(operatorDir));
    });

    it('is what the Dockerfile copies into a non-root final stage', async () => {
      const docker = await dockerfileFacts(operatorDir);
      expect(docker.bundleOperator).toBe(basename(operatorDir));
      expect(docker.copyFrom?.src).toBe(docker.bundleDir);
      expect(docker.build?.from).toMatch(/^node:24/);
      expect(docker.final?.from).toMatch(/nodejs24|node:24/);
      expect(docker.final?.from).not.toBe(docker.build?.from);
      expect(docker.user).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
      expect(docker.entrypoint?.at(-1)).toBe(join(docker.copyFrom?.dest ?? '?', 'dist/main.js'));
      expect(docker.labels).toContain('org.opencontainers.image.source=');
      // What startOperatorProcess and the bundle's runs above start the operator with.
      expect(docker.env).toMatchObject({ NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' });
    });
  });
}

/**
 * Starts the operator from the bundle against the shared cluster, waits until it is ready,
 * then stops it with SIGTERM and expects a clean exit.
 */
async function runAgainstApiServer(bundle: Bundle, opts: ImageBundleSuiteOptions): Promise<void> {
  const cluster = await sharedCluster();
  await cluster.apply(opts.crds ?? []);
  const kubeconfig = await cluster.writeKubeconfig(
    cluster.kubeConfig,
    `kubeconfig-bundle-${basename(opts.operatorDir)}`,
  );
  const port = await freePort();
  const child = bundle.start([
    ...((await opts.startArgs?.()) ?? []),
    `--kubeconfig=${kubeconfig}`,
    `--health-port=${port}`,
    '--metrics-port=0',
    '--log-level=warn',
  ]);
  // Its logs go to stdout, failures to stderr: both, for the error message.
  let stderr = '';
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
  const exited = once(child, 'exit');
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`${opts.command} from the bundle never got ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  expect(code, stderr).toBe(0);
}
