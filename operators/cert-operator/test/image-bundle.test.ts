// The image without Docker: the bundle the Dockerfile copies into its final stage,
// assembled by the same scripts/bundle.sh, must run on its own and hold no devDependency.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { assembleBundle, type Bundle, DEV_ONLY_PACKAGES, dockerfileFacts } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const operatorDir = fileURLToPath(new URL('..', import.meta.url));
const COMMAND = 'chousei-cert-operator';
const FLAGS = [
  '--default-issuer-name',
  '--http01-solver-port',
  '--webhook-cert-dir',
  '--kubeconfig',
  '--leader-elect',
];
// Measured 94 MB of files (du: 123M), 62 MB of it @kubernetes/client-node.
const MAX_MB = 120;

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
    expect(r.stdout).toContain(`Usage: ${COMMAND}`);
    for (const flag of FLAGS) expect(r.stdout).toContain(`  ${flag}`);
    const workspace = await promisify(execFile)(
      process.execPath,
      [join(operatorDir, 'dist/main.js'), '--help'],
      { env: { PATH: '/usr/bin:/bin' } },
    );
    expect(r.stdout).toBe(workspace.stdout);
  });

  it('holds production dependencies only, workspace packages as built dist', async () => {
    expect(DEV_ONLY_PACKAGES.filter((name) => bundle.packages.has(name))).toEqual([]);
    expect(bundle.packages).toContain('@chousei/runtime');
    expect(bundle.packages).toContain('@chousei/dns');
    for (const pkg of ['runtime', 'dns']) {
      const files = await readdir(join(bundle.dir, 'node_modules/@chousei', pkg));
      expect(files).toContain('dist');
      expect(files).not.toContain('src');
    }
    expect(bundle.escapingLinks).toEqual([]);
  });

  it(`stays under ${MAX_MB} MB`, () => {
    const mb = bundle.bytes / 1e6;
    console.log(`${COMMAND} bundle: ${mb.toFixed(1)} MB (du: ${bundle.du})`);
    expect(mb).toBeLessThan(MAX_MB);
  });

  it('is what the Dockerfile copies into a non-root final stage', async () => {
    const docker = await dockerfileFacts(operatorDir);
    expect(docker.bundleOperator).toBe('cert-operator');
    expect(docker.copyFrom?.src).toBe(docker.bundleDir);
    expect(docker.build?.from).toMatch(/^node:24/);
    expect(docker.final?.from).toMatch(/nodejs24|node:24/);
    expect(docker.final?.from).not.toBe(docker.build?.from);
    expect(docker.user).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
    expect(docker.entrypoint?.at(-1)).toBe(join(docker.copyFrom?.dest ?? '?', 'dist/main.js'));
    expect(docker.labels).toContain('org.opencontainers.image.source=');
  });
});
