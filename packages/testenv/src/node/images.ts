// Images made on this machine, so that a node needs no registry: a pause image (Debian's
// static catatonit, which podman uses as its pause process) and Node 24 bases (the npm Node
// binary with the Debian libraries it links), written as OCI archives that `ctr images
// import` and buildah's oci-archive transport read.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireDebian } from '../tools.js';

const run = promisify(execFile);

/** An OCI archive (an image layout in a tar) holding one image named `name`. */
export interface ImageArchive {
  /** The image reference, e.g. `chousei.local/node:24`. */
  name: string;
  path: string;
}

/** UID and GID of distroless's `nonroot`, which the operator images run as. */
export const NONROOT = 65532;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What goes into one layer: host files (at their path) and files written for the image. */
interface LayerSpec {
  /** Absolute host paths, added at the same path (libraries with the links that name them). */
  hostFiles: string[];
  /** Host files added at another path in the image, e.g. node at /nodejs/bin/node. */
  placed?: Array<{ from: string; to: string }>;
  /** Text files written into the image (path -> content). */
  written?: Record<string, string>;
  /** Symbolic links in the image (path -> target). */
  links?: Record<string, string>;
  /** Empty directories, with their mode and owner. */
  dirs?: Array<{ path: string; mode: number; uid?: number }>;
}

export interface ImageSpec {
  name: string;
  layers: LayerSpec[];
  config: {
    User?: string;
    WorkingDir?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
  };
}

/** The files of Debian packages (`dpkg -L`), regular files and links only, docs left out. */
export async function debianFiles(packages: string[]): Promise<string[]> {
  const { stdout } = await run('dpkg', ['-L', ...packages], { maxBuffer: 16 * 1024 * 1024 });
  const skip = /^\/usr\/share\/(doc|man|info|lintian|locale|bug)\//;
  const files: string[] = [];
  for (const path of stdout.split('\n')) {
    if (!path.startsWith('/') || skip.test(path)) continue;
    const st = await lstat(path).catch(() => undefined);
    if (st && !st.isDirectory()) files.push(path);
  }
  return files;
}

/** The shared libraries an executable loads (ldd), the dynamic loader included. */
export async function sharedLibraries(executables: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const exe of executables) {
    const { stdout } = await run('ldd', [exe]).catch(() => ({ stdout: '' }));
    for (const m of stdout.matchAll(/(\/\S+) \(0x/g)) if (m[1]) libs.add(m[1]);
  }
  return [...libs];
}

/**
 * A host path as Debian 12 lays it out (merged /usr: /lib is a link to usr/lib), and, for
 * a link, the path it leads to, so that both the name and the file land in the image.
 */
async function canonicalPaths(path: string, into: Set<string>): Promise<void> {
  const canonical = join(await realpath(dirname(path)), basename(path));
  if (into.has(canonical)) return;
  const st = await lstat(canonical);
  // Folders come with their files; a link to one is merged /usr's (the image has its own).
  if (st.isDirectory() || (st.isSymbolicLink() && (await stat(canonical)).isDirectory())) return;
  into.add(canonical);
  if (st.isSymbolicLink()) {
    await canonicalPaths(resolve(dirname(canonical), await readlink(canonical)), into);
  }
}

const MERGED_USR = { bin: 'usr/bin', sbin: 'usr/sbin', lib: 'usr/lib', lib64: 'usr/lib64' };

/** Writes one layer tar from its spec; answers its digest (uncompressed: digest = diff_id). */
async function writeLayer(spec: LayerSpec, work: string, out: string): Promise<string> {
  const stage = await mkdtemp(join(work, 'stage-'));
  for (const { from, to } of spec.placed ?? []) {
    const target = join(stage, to);
    await mkdir(dirname(target), { recursive: true });
    // Same file system: a hard link, no copy of a 120 MB binary.
    await link(from, target).catch(() => run('cp', ['--preserve=mode', from, target]));
  }
  for (const [path, content] of Object.entries(spec.written ?? {})) {
    await mkdir(dirname(join(stage, path)), { recursive: true });
    await writeFile(join(stage, path), content, { mode: 0o644 });
  }
  for (const [path, target] of Object.entries(spec.links ?? {})) {
    await mkdir(dirname(join(stage, path)), { recursive: true });
    await run('ln', ['-s', target, join(stage, path)]);
  }
  for (const dir of spec.dirs ?? []) {
    const path = join(stage, dir.path);
    await mkdir(path, { recursive: true });
    await chmod(path, dir.mode);
    if (dir.uid !== undefined) await chown(path, dir.uid, dir.uid);
  }
  const host = new Set<string>();
  for (const f of spec.hostFiles) await canonicalPaths(f, host);
  // A path twice in a layer is refused by containers/storage (buildah): the staged one wins.
  const staged = new Set(
    [
      ...(spec.placed ?? []).map((p) => p.to),
      ...Object.keys({ ...spec.written, ...spec.links }),
    ].map((p) => `/${p}`),
  );
  const paths = [...host].filter((p) => !staged.has(p)).sort();
  const list = join(work, `${basename(stage)}.list`);
  await writeFile(list, paths.map((p) => relative('/', p)).join('\n'));
  // Owners as on the host (root) and as staged (nonroot's home); one fixed time, so an
  // unchanged input gives the same digest.
  await run('tar', [
    '--create',
    `--file=${out}`,
    '--numeric-owner',
    '--mtime=@0',
    '--sort=name',
    '--directory=/',
    '--no-recursion',
    `--files-from=${list}`,
    '--recursion',
    `--directory=${stage}`,
    '.',
  ]);
  await rm(stage, { recursive: true, force: true });
  return sha256File(out);
}

function sha256File(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}

const EPOCH = '1970-01-01T00:00:00Z';

/** Writes `spec` as an OCI archive at `out`. */
export async function writeImage(spec: ImageSpec, out: string): Promise<ImageArchive> {
  const work = await mkdtemp(join(tmpdir(), 'chousei-image-'));
  try {
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const layers: Array<{ digest: string; size: number }> = [];
    for (const layer of spec.layers) {
      const tmp = join(work, 'layer.tar');
      const digest = await writeLayer(layer, work, tmp);
      await rename(tmp, join(blobs, digest));
      layers.push({ digest, size: (await stat(join(blobs, digest))).size });
    }
    const blob = async (json: unknown) => {
      const text = JSON.stringify(json);
      const digest = createHash('sha256').update(text).digest('hex');
      await writeFile(join(blobs, digest), text);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
    };
    const config = await blob({
      architecture: 'amd64',
      os: 'linux',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.digest}`) },
      // One entry per layer: builders (buildah) check that history and layers agree.
      created: EPOCH,
      history: layers.map((_, i) => ({ created: EPOCH, created_by: `chousei testenv layer ${i}` })),
    });
    const manifest = await blob({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: `sha256:${l.digest}`,
        size: l.size,
      })),
    });
    const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            // containerd names the image by the first, buildah's oci-archive by the second.
            annotations: {
              'io.containerd.image.name': spec.name,
              'org.opencontainers.image.ref.name': tag,
            },
          },
        ],
      }),
    );
    await mkdir(dirname(out), { recursive: true });
    // Another test process may write the same image at the same time: its own file first.
    const tmp = `${out}.${process.pid}.tmp`;
    await run('tar', ['--create', `--file=${tmp}`, `--directory=${layout}`, '.']);
    await rename(tmp, out);
    return { name: spec.name, path: out };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A key over everything an image is made of (each host file's path, size and time, the
 * config): an archive under that key is reused, a changed library or Node makes a new one.
 */
export async function imageKey(spec: ImageSpec): Promise<string> {
  // Bumped when this module writes images differently.
  const hash = createHash('sha256').update(`format 4\n${JSON.stringify(spec)}`);
  for (const layer of spec.layers) {
    const paths = new Set<string>();
    for (const f of layer.hostFiles) await canonicalPaths(f, paths);
    for (const p of [...paths, ...(layer.placed ?? []).map((p) => p.from)]) {
      const st = await lstat(p);
      hash.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** The image of `spec`, from `cacheDir` when it was made before from the same files. */
export async function cachedImage(spec: ImageSpec, cacheDir: string): Promise<ImageArchive> {
  const safe = spec.name.replace(/[^a-zA-Z0-9.-]+/g, '_');
  const file = `${safe}-${await imageKey(spec)}.tar`;
  const path = join(cacheDir, file);
  if (existsSync(path)) return { name: spec.name, path };
  const image = await writeImage(spec, path);
  // Older archives of the same image (made from other files) are of no more use.
  for (const old of await readdir(cacheDir)) {
    if (old.startsWith(`${safe}-`) && old.endsWith('.tar') && old !== file)
      await rm(join(cacheDir, old), { force: true });
  }
  return image;
}

/** The pause image every Pod's sandbox runs: catatonit -P sleeps and reaps, nothing else. */
export function pauseImageSpec(name: string): ImageSpec {
  const catatonit = requireDebian('catatonit', 'catatonit');
  return {
    name,
    layers: [{ hostFiles: [], placed: [{ from: catatonit, to: 'pause' }] }],
    config: { Entrypoint: ['/pause', '-P'], User: '65535' },
  };
}

const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  `nonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin`,
  '',
].join('\n');
const GROUP = ['root:x:0:', `nonroot:x:${NONROOT}:`, ''].join('\n');

/**
 * The runtime layer distroless's nodejs24-debian12 has, from this machine's Debian: Node at
 * /nodejs/bin/node, the libraries it links, CA certificates, root and nonroot.
 */
async function nodeRuntimeLayer(node: string): Promise<LayerSpec> {
  return {
    hostFiles: [...(await sharedLibraries([node])), '/etc/ssl/certs/ca-certificates.crt'],
    placed: [{ from: node, to: 'nodejs/bin/node' }],
    written: {
      'etc/passwd': PASSWD,
      'etc/group': GROUP,
      'etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
    },
    links: MERGED_USR,
    dirs: [
      { path: 'tmp', mode: 0o1777 },
      { path: 'home/nonroot', mode: 0o700, uid: NONROOT },
    ],
  };
}

/** Node 24 as distroless ships it: no shell, runs as nonroot (UID 65532). */
export async function nodeImageSpec(name: string, node: string): Promise<ImageSpec> {
  return {
    name,
    layers: [await nodeRuntimeLayer(node)],
    config: {
      User: String(NONROOT),
      WorkingDir: '/home/nonroot',
      Env: [PATH_ENV, 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'],
      Entrypoint: ['/nodejs/bin/node'],
    },
  };
}

/** Debian packages of the build image's shell and tools (what the Dockerfiles' RUNs call). */
const BUILD_PACKAGES = ['dash', 'bash', 'coreutils', 'sed', 'grep', 'findutils', 'tar', 'gzip'];

/**
 * A build image for the Dockerfiles' first stage, laid out as node:24-bookworm-slim is: Node
 * and npm (from `npmDir`, an installed npm package) under /usr/local, a shell and core tools
 * from this machine's Debian, run as root.
 */
export async function nodeBuildImageSpec(
  name: string,
  node: string,
  npmDir: string,
): Promise<ImageSpec> {
  const tools = await debianFiles(BUILD_PACKAGES);
  const executables = [node, ...tools.filter((f) => /\/s?bin\//.test(f))];
  const { stdout } = await run('find', [npmDir, '-type', 'f'], { maxBuffer: 64 * 1024 * 1024 });
  const npm = 'usr/local/lib/node_modules/npm';
  return {
    name,
    layers: [
      {
        hostFiles: [
          ...tools,
          ...(await sharedLibraries(executables)),
          '/etc/ssl/certs/ca-certificates.crt',
        ],
        placed: [
          { from: node, to: 'usr/local/bin/node' },
          ...stdout
            .split('\n')
            .filter(Boolean)
            .map((f) => ({ from: f, to: join(npm, relative(npmDir, f)) })),
        ],
        written: { 'etc/passwd': PASSWD, 'etc/group': GROUP },
        links: {
          ...MERGED_USR,
          'usr/local/bin/npm': '../lib/node_modules/npm/bin/npm-cli.js',
          'usr/local/bin/npx': '../lib/node_modules/npm/bin/npx-cli.js',
        },
        dirs: [
          { path: 'tmp', mode: 0o1777 },
          { path: 'root', mode: 0o700 },
        ],
      },
    ],
    config: {
      User: '0',
      WorkingDir: '/',
      // npm and pnpm trust this machine's CA bundle, as its own tools do (a TLS-inspecting
      // proxy's CA included); Node's built-in list alone would refuse such a proxy.
      Env: [PATH_ENV, 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'],
      Cmd: ['node'],
    },
  };
}
