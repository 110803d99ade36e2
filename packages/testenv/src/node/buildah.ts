// An operator's image built from its shipped Dockerfile with buildah, on the local bases
// (./images.ts) given as its BUILD_IMAGE and BASE_IMAGE build arguments: the image users
// get, but for the bases. Cached by everything the build reads.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { MissingDependencyError } from '../errors.js';
import { cacheDir, requireDebian, SETUP_HINT } from '../tools.js';
import { baseImages, imageCache, node24 } from './cluster.js';
import { cachedImage, type ImageArchive, nodeBuildImageSpec } from './images.js';
import { mountsUnder } from './teardown.js';

const run = promisify(execFile);

/** The local stand-in for node:24-bookworm-slim, the Dockerfiles' build stage. */
export const NODE_BUILD_IMAGE = 'chousei.local/node-build:24';

/** The npm package setup.sh installs for the build image (npm-VERSION in the cache). */
function npmPackage(): string {
  const root = cacheDir();
  const found = readdirSync(root)
    .filter((d) => d.startsWith('npm-'))
    .sort()
    .reverse()
    .map((d) => join(root, d, 'node_modules', 'npm'))
    .find((p) => existsSync(join(p, 'package.json')));
  if (!found) throw new MissingDependencyError('npm (for the local build image)', SETUP_HINT);
  return found;
}

/** The Dockerfiles' two bases, made locally. */
export async function dockerfileBases(): Promise<{ build: ImageArchive; base: ImageArchive }> {
  const [build, { node }] = await Promise.all([
    cachedImage(await nodeBuildImageSpec(NODE_BUILD_IMAGE, node24(), npmPackage()), imageCache()),
    baseImages(),
  ]);
  return { build, base: node };
}

/** A hash of every file in the repository but ignored ones: a superset of the build context. */
async function contextHash(repo: string): Promise<string> {
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: repo, maxBuffer: 64 * 1024 * 1024 },
  );
  const hash = createHash('sha256');
  for (const file of stdout.split('\0').filter(Boolean).sort()) {
    const content = await readFile(join(repo, file)).catch(() => undefined);
    if (content) hash.update(`${file}\0`).update(content);
  }
  return hash.digest('hex');
}

export interface OperatorImage extends ImageArchive {
  /** Milliseconds the build took; 0 when it came from the cache. */
  buildMs: number;
}

/**
 * Builds `operatorDir`'s Dockerfile with buildah (a storage of its own, removed after; the
 * pnpm store cache mount kept under the cache) and writes it as a docker archive that
 * `ctr images import` names `chousei.local/OPERATOR:TAG`. Steps that fetch (npm, pnpm
 * install) use the host's network, as setup does.
 */
export async function buildOperatorImage(
  operatorDir: string,
  opts: { tag?: string; onOutput?: (line: string) => void } = {},
): Promise<OperatorImage> {
  const repo = dirname(dirname(operatorDir));
  const operator = basename(operatorDir);
  const name = `chousei.local/${operator}:${opts.tag ?? 'test'}`;
  const { build, base } = await dockerfileBases();
  const key = createHash('sha256')
    .update([name, build.path, base.path, await contextHash(repo)].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const dir = join(imageCache(), 'operators');
  const path = join(dir, `${operator}-${key}.tar`);
  if (existsSync(path)) return { name, path, buildMs: 0 };

  const buildah = requireDebian('buildah', 'buildah');
  const work = await mkdtemp(join(tmpdir(), 'chousei-buildah-'));
  const global = [
    `--root=${join(work, 'storage')}`,
    `--runroot=${join(work, 'run')}`,
    '--storage-driver=overlay',
  ];
  // buildah keeps RUN --mount=type=cache folders under $TMPDIR/buildah-cache.
  const env = { ...process.env, TMPDIR: join(cacheDir(), 'buildah-tmp') };
  await mkdir(env.TMPDIR, { recursive: true });
  const started = Date.now();
  try {
    const { version } = JSON.parse(await readFile(join(operatorDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    const bud = execFile(
      buildah,
      [
        ...global,
        'bud',
        '--network=host',
        `--file=${join(operatorDir, 'Dockerfile')}`,
        `--tag=${name}`,
        `--build-arg=BUILD_IMAGE=oci-archive:${build.path}`,
        `--build-arg=BASE_IMAGE=oci-archive:${base.path}`,
        `--build-arg=VERSION=${version}`,
        `--build-arg=REVISION=${key}`,
        repo,
      ],
      { env, maxBuffer: 256 * 1024 * 1024 },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-64 * 1024);
      for (const line of chunk.toString().split('\n')) if (line) opts.onOutput?.(line);
    };
    bud.stdout?.on('data', keep);
    bud.stderr?.on('data', keep);
    const code = await new Promise<number | null>((resolve) => bud.once('exit', resolve));
    if (code !== 0) throw new Error(`buildah bud ${operator} failed (${code}):\n${output}`);
    await mkdir(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await run(buildah, [...global, 'push', name, `docker-archive:${tmp}:${name}`], { env });
    await rename(tmp, path);
    for (const old of await readdir(dir)) {
      if (old.startsWith(`${operator}-`) && old.endsWith('.tar') && old !== basename(path)) {
        await rm(join(dir, old), { force: true });
      }
    }
    return { name, path, buildMs: Date.now() - started };
  } finally {
    await run(buildah, [...global, 'rm', '--all'], { env }).catch(() => {});
    // containers/storage mounts its overlay folder onto itself.
    for (const m of await mountsUnder(work)) await run('umount', ['--lazy', m]).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
