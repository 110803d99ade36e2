import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * The image-bundle check without Docker: an operator's production bundle assembled by
 * scripts/bundle.sh, the script its Dockerfile RUNs, and the facts of that Dockerfile.
 *
 *   const bundle = await assembleBundle(fileURLToPath(new URL('..', import.meta.url)));
 *   const help = await bundle.run(['--help']);
 */

/** Packages only development needs; none may land in a bundle. */
export const DEV_ONLY_PACKAGES = [
  '@chousei/testenv',
  'vitest',
  'vite',
  'typescript',
  '@biomejs/biome',
  'turbo',
] as const;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number },
): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { ...opts, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code ?? 1) : 0;
      done({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

export interface Bundle {
  /** The bundle folder (OUTDIR of scripts/bundle.sh), in a temporary folder outside the repo. */
  readonly dir: string;
  /** Bytes of its files and links, each inode counted once (about `du --apparent-size`). */
  readonly bytes: number;
  /** `du -sh` of the folder, to report. */
  readonly du: string;
  /** Every package installed in its node_modules, by name. */
  readonly packages: Set<string>;
  /** Symlinks that are absolute or point outside the bundle, which must be relocatable
   * (the Dockerfile builds it in one folder and copies it to another). */
  readonly escapingLinks: string[];
  /** Runs `node FLAGS dist/main.js ARGS` on this Node (FLAGS: the ENTRYPOINT's), from a
   * folder outside the repository and with an environment holding no NODE_PATH or
   * NODE_OPTIONS: modules resolve in the bundle only. */
  run(args: string[]): Promise<Run>;
  /** Starts it as a long-running process, the way `run` does (outside the repo, bare env). */
  start(args: string[]): ChildProcess;
  remove(): Promise<void>;
}

/** `@scope+name@1.0.0_peer@2` (a node_modules/.pnpm entry) -> `@scope/name`. */
export function pnpmEntryName(entry: string): string | undefined {
  const m = /^(@[^+@]+\+[^@]+|[^@]+)@/.exec(entry);
  return m?.[1]?.replace('+', '/');
}

async function walk(dir: string, visit: (path: string, isLink: boolean) => Promise<void>) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) await visit(path, true);
    else if (entry.isDirectory()) await walk(path, visit);
    else await visit(path, false);
  }
}

async function installedPackages(nodeModules: string): Promise<Set<string>> {
  const names = new Set<string>();
  const entries = await readdir(nodeModules).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry === '.pnpm') {
      for (const e of await readdir(join(nodeModules, entry))) {
        const name = pnpmEntryName(e);
        if (name) names.add(name);
      }
    } else if (entry.startsWith('@')) {
      for (const e of await readdir(join(nodeModules, entry))) names.add(`${entry}/${e}`);
    } else if (!entry.startsWith('.')) {
      names.add(entry);
    }
  }
  return names;
}

/**
 * Runs `scripts/bundle.sh OPERATOR OUT` (OPERATOR: the basename of operatorDir) into a
 * new temporary folder and describes the result. pnpm must be on PATH, as under `pnpm test`.
 */
export async function assembleBundle(operatorDir: string): Promise<Bundle> {
  const root = resolve(operatorDir, '../..');
  const operator = basename(operatorDir);
  const tmp = await realpath(await mkdtemp(join(tmpdir(), `chousei-bundle-${operator}-`)));
  const dir = join(tmp, 'bundle');
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const built = await exec('bash', [join(root, 'scripts/bundle.sh'), operator, dir], {
    cwd: root,
    env,
    timeout: 120_000,
  });
  if (built.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(
      `scripts/bundle.sh ${operator} failed (${built.code}):\n${built.stdout}\n${built.stderr}`,
    );
  }

  const inodes = new Set<number>();
  const escapingLinks: string[] = [];
  let bytes = 0;
  await walk(dir, async (path, isLink) => {
    const st = await lstat(path);
    if (isLink) {
      const link = await readlink(path);
      const rel = relative(dir, resolve(dirname(path), link));
      const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
      if (isAbsolute(link) || outside) escapingLinks.push(path);
    }
    if (!inodes.has(st.ino)) {
      inodes.add(st.ino);
      bytes += st.size;
    }
  });
  const du = await exec('du', ['-sh', dir], { cwd: tmp, env, timeout: 30_000 });

  // Node looks for packages in node_modules of every folder above main.js: none may exist
  // outside the bundle, or a module missing from it could still resolve.
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    if (await lstat(join(d, 'node_modules')).catch(() => undefined)) {
      await rm(tmp, { recursive: true, force: true });
      throw new Error(`${d}/node_modules exists: set TMPDIR to a folder without one above it`);
    }
  }
  const outside = await mkdtemp(join(tmp, 'cwd-'));
  const nodeFlags = await imageNodeFlags(operatorDir);
  const imageVars = await imageEnv(operatorDir);
  return {
    dir,
    bytes,
    du: du.stdout.split('\t')[0] ?? '?',
    packages: await installedPackages(join(dir, 'node_modules')),
    escapingLinks,
    run: (args) =>
      exec(process.execPath, [...nodeFlags, join(dir, 'dist/main.js'), ...args], {
        cwd: outside,
        env: { ...imageVars, PATH: '/usr/bin:/bin', HOME: outside },
        timeout: 30_000,
      }),
    start: (args) =>
      spawn(process.execPath, [...nodeFlags, join(dir, 'dist/main.js'), ...args], {
        cwd: outside,
        env: { ...imageVars, PATH: '/usr/bin:/bin', HOME: outside },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    remove: () => rm(tmp, { recursive: true, force: true }),
  };
}

export interface DockerfileStage {
  from: string;
  name?: string;
  instructions: { keyword: string; args: string }[];
}

/**
 * The stages of a Dockerfile: FROM lines and the instructions under each (continuations
 * joined). A FROM names its image with the defaults of the ARGs declared before the first
 * FROM, as a build without --build-arg does.
 */
export function parseDockerfile(text: string): DockerfileStage[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const stages: DockerfileStage[] = [];
  const globalArgs = new Map<string, string>();
  const expand = (s: string) =>
    s.replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (all, a?: string, b?: string) => globalArgs.get(a ?? b ?? '') ?? all,
    );
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const kw = keyword.toUpperCase();
    if (kw === 'ARG' && !stages.length) {
      const [, name = '', value = ''] = /^(\w+)(?:=(\S*))?/.exec(args) ?? [];
      globalArgs.set(name, value.replace(/^"(.*)"$/, '$1'));
    } else if (kw === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(expand(args));
      stages.push({ from: m?.[1] ?? '', ...(m?.[2] ? { name: m[2] } : {}), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: kw, args: args.replace(/\s+/g, ' ') });
    }
  }
  return stages;
}

export interface DockerfileFacts {
  stages: DockerfileStage[];
  build: DockerfileStage | undefined;
  final: DockerfileStage | undefined;
  /** OUTDIR of the `scripts/bundle.sh OPERATOR OUTDIR` the build stage RUNs. */
  bundleOperator: string | undefined;
  bundleDir: string | undefined;
  /** The source and destination of the final stage's COPY --from=<build stage>. */
  copyFrom: { stage: string; src: string; dest: string } | undefined;
  /** The last USER of the final stage. */
  user: string | undefined;
  workdir: string | undefined;
  entrypoint: string[] | undefined;
  /** The final stage's ENV, as the operator's process sees it. */
  env: Record<string, string>;
  labels: string;
}

/**
 * The Dockerfile of the operator in `operatorDir`: scripts/operator.Dockerfile, one for all
 * operators, with its name (the folder) and its package.json description filled in.
 */
export async function renderDockerfile(operatorDir: string): Promise<string> {
  const template = await readFile(
    join(operatorDir, '..', '..', 'scripts', 'operator.Dockerfile'),
    'utf8',
  );
  const { description } = JSON.parse(await readFile(join(operatorDir, 'package.json'), 'utf8')) as {
    description?: string;
  };
  if (!description)
    throw new Error(`${operatorDir}/package.json: no description for the image label`);
  return template
    .replaceAll('{{operator}}', basename(operatorDir))
    .replaceAll('{{description}}', description.replaceAll('"', '\\"'));
}

/** The Node flags of the Dockerfile's ENTRYPOINT, between `node` and dist/main.js. */
export async function imageNodeFlags(operatorDir: string): Promise<string[]> {
  const { entrypoint } = await dockerfileFacts(operatorDir);
  if (!entrypoint?.at(-1)?.endsWith('/dist/main.js')) {
    throw new Error(`${operatorDir}/Dockerfile: the ENTRYPOINT does not run dist/main.js`);
  }
  return entrypoint.slice(1, -1);
}

/** The environment the operator's image sets (its Dockerfile's ENV). */
export async function imageEnv(operatorDir: string): Promise<Record<string, string>> {
  return (await dockerfileFacts(operatorDir)).env;
}

/** `KEY=value KEY2=value2`, or the legacy `KEY value`. */
function envPairs(args: string): Array<[string, string]> {
  if (!/^\S+=/.test(args)) {
    const [key, ...value] = args.split(/\s+/);
    return [[key!, value.join(' ')]];
  }
  return [...args.matchAll(/(\S+?)=("[^"]*"|\S*)/g)].map(([, key, value]) => [
    key!,
    value!.replace(/^"|"$/g, ''),
  ]);
}

/** The arguments of `node` that run the operator in `operatorDir` as its image does. */
export async function operatorCommand(operatorDir: string, args: string[] = []): Promise<string[]> {
  return [...(await imageNodeFlags(operatorDir)), join(operatorDir, 'dist', 'main.js'), ...args];
}

/** Reads operators/OPERATOR/Dockerfile and picks out what the image-bundle check asserts. */
export async function dockerfileFacts(operatorDir: string): Promise<DockerfileFacts> {
  const stages = parseDockerfile(await readFile(join(operatorDir, 'Dockerfile'), 'utf8'));
  const final = stages.at(-1);
  const of = (stage: DockerfileStage | undefined, kw: string) =>
    stage?.instructions.filter((i) => i.keyword === kw) ?? [];
  const copy = of(final, 'COPY')
    .map((i) => /--from=(\S+)\s+(?:--\S+\s+)*(\S+)\s+(\S+)$/.exec(i.args))
    .find((m) => m);
  const build = stages.find((s) => copy && s.name === copy[1]);
  const bundleRun = of(build, 'RUN')
    .map((i) => /scripts\/bundle\.sh\s+(\S+)\s+(\S+)/.exec(i.args))
    .find((m) => m);
  const entry = of(final, 'ENTRYPOINT').at(-1)?.args;
  return {
    stages,
    build,
    final,
    bundleOperator: bundleRun?.[1],
    bundleDir: bundleRun?.[2],
    copyFrom: copy ? { stage: copy[1]!, src: copy[2]!, dest: copy[3]! } : undefined,
    user: of(final, 'USER').at(-1)?.args,
    workdir: of(final, 'WORKDIR').at(-1)?.args,
    entrypoint: entry?.startsWith('[') ? (JSON.parse(entry) as string[]) : entry?.split(' '),
    env: Object.fromEntries(of(final, 'ENV').flatMap((i) => envPairs(i.args))),
    labels: of(final, 'LABEL')
      .map((i) => i.args)
      .join(' '),
  };
}
