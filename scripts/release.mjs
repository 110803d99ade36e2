// `pnpm release [--dry-run] [--files] [-- changeset publish options]`
//
// Publishes what changesets has versioned: the workspace packages whose version is not on
// the registry yet (`changeset publish-plan`) are built with turbo (their workspace
// dependencies too, unchanged ones from the turbo cache), then `changeset publish`
// publishes them and tags each `name@version`. Run `changeset version` first and commit:
// a release refuses pending changesets and a dirty tree.
//
// --dry-run changes nothing in the tree and publishes nothing. In a temporary copy of the
// workspace's manifests it applies the pending changesets (`changeset version`) and prints,
// per package, the version a release would publish and its changelog entry; then it builds
// those packages and shows their tarballs (`pnpm publish -r --dry-run` in that copy, so the
// versions and the `workspace:` ranges are the ones a release would publish). --files lists
// every file of every tarball instead of a count per folder.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartVersions, operatorCharts } from './charts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const changesetBin = fileURLToPath(import.meta.resolve('@changesets/cli/bin.js'));
const argv = process.argv.slice(2);
const dryRun = argv.includes('--dry-run');
const listFiles = argv.includes('--files');
const dashdash = argv.indexOf('--');
const publishArgs = dashdash >= 0 ? argv.slice(dashdash + 1) : [];

class ReleaseError extends Error {}

/** The chart of each operator package in the plan, with the versions it has now. */
function chartsOf(plan) {
  const charts = new Map(operatorCharts(root).map((c) => [c.name, c]));
  return plan
    .filter((r) => charts.has(r.name))
    .map((r) => {
      const { chartFile } = charts.get(r.name);
      return { release: r, path: relative(root, chartFile), ...chartVersions(chartFile) };
    });
}

function fail(message) {
  throw new ReleaseError(message);
}

/** Runs a command; its output is returned when `capture`, else shown. Fails on a non-zero exit. */
function run(cmd, args, { cwd = root, env = process.env, capture = false } = {}) {
  const res = spawnSync(cmd, args, {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  if (res.error) fail(`${cmd}: ${res.error.message}`);
  if (res.status !== 0) {
    if (capture) process.stderr.write(`${res.stdout}${res.stderr}`);
    fail(`\`${[cmd, ...args].join(' ')}\` (in ${cwd}) exited with ${res.status}`);
  }
  return capture ? `${res.stdout}${res.stderr}` : '';
}

const changeset = (args, opts) => run(process.execPath, [changesetBin, ...args], opts);
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** The workspace's packages: name, version, path, private. */
function workspacePackages() {
  const list = JSON.parse(run('pnpm', ['ls', '-r', '--depth', '-1', '--json'], { capture: true }));
  return list.filter((p) => p.path !== root.replace(/\/$/, ''));
}

function pendingChangesets() {
  const dir = join(root, '.changeset');
  return readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md');
}

/** `changeset publish-plan`: what is not on the registry yet, in publish order. */
function publishPlan(cwd) {
  const dir = mkdtempSync(join(tmpdir(), 'chousei-plan-'));
  try {
    changeset(['publish-plan', '--output', join(dir, 'plan.json')], { cwd, capture: true });
    return readJson(join(dir, 'plan.json'))
      .plan.flat()
      .filter((r) => r.kind === 'publish');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Problems that would make a published package unusable (errors) or poorer (warnings). */
function checkManifests(packages, privateNames) {
  const errors = [];
  const warnings = [];
  for (const { name, pkg } of packages) {
    if (!pkg.license) errors.push(`${name}: no "license"`);
    if (!Array.isArray(pkg.files) || pkg.files.length === 0) errors.push(`${name}: no "files"`);
    if (!pkg.exports && !pkg.bin && !pkg.main)
      errors.push(`${name}: no "exports", "bin" or "main"`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(pkg[field] ?? {})) {
        if (privateNames.has(dep)) errors.push(`${name}: ${field} has the private package ${dep}`);
      }
    }
    if (!pkg.repository) warnings.push(`${name}: no "repository" (npm provenance needs it)`);
    if (pkg.publishConfig?.access !== 'public') {
      warnings.push(`${name}: no publishConfig.access "public" (changesets' access applies)`);
    }
  }
  for (const w of warnings) console.log(`warning: ${w}`);
  if (errors.length) fail(`package.json problems:\n  ${errors.join('\n  ')}`);
}

function buildPackages(names) {
  console.log(`\n== build (turbo): ${names.join(', ')}`);
  run('pnpm', [
    'exec',
    'turbo',
    'run',
    'build',
    ...names.map((n) => `--filter=${n}`),
    '--output-logs=errors-only',
  ]);
}

/** The section `## VERSION` of a CHANGELOG.md. */
function changelogEntry(path, version) {
  if (!existsSync(path)) return '(no changelog entry)';
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(`\n## ${version}\n`);
  if (start < 0) return '(no changelog entry)';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start + 1, end < 0 ? undefined : end).trim();
}

/** The workspace: dependencies of a manifest as pnpm publish writes them (`workspace:*` -> 1.2.3). */
function publishedWorkspaceDeps(pkg, preview, byName) {
  return ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((field) =>
    Object.entries(pkg[field] ?? {})
      .filter(([dep, spec]) => String(spec).startsWith('workspace:') && byName.has(dep))
      .map(([dep, spec]) => {
        const dir = join(preview, relative(root, byName.get(dep).path));
        const { version } = readJson(join(dir, 'package.json'));
        const range = String(spec).slice('workspace:'.length);
        const published =
          range === '*' ? version : range === '^' || range === '~' ? range + version : range;
        return `${dep}@${published}`;
      }),
  );
}

/** pnpm's (npm's) tarball listing, with files counted per folder unless --files. */
function summarizeTarballs(output) {
  const lines = [];
  let folders = new Map();
  const flush = () => {
    for (const [folder, { count, bytes }] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`npm notice ${count} files in ${folder}/ (${(bytes / 1000).toFixed(1)} kB)`);
    }
    folders = new Map();
  };
  const units = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
  for (const line of output.split('\n')) {
    const m = /^npm notice ([\d.]+)(B|kB|MB|GB) (\S+)\/(\S+)$/.exec(line);
    if (m && !listFiles) {
      const folder = m[3];
      const entry = folders.get(folder) ?? { count: 0, bytes: 0 };
      entry.count += 1;
      entry.bytes += Number(m[1]) * units[m[2]];
      folders.set(folder, entry);
      continue;
    }
    if (line.startsWith('npm notice Tarball Details')) flush();
    if (/requires you to be logged in|^npm warn Unknown env config/.test(line)) continue;
    lines.push(line);
  }
  flush();
  return lines.join('\n');
}

/** Copies the workspace's manifests, changesets and changelogs into dir, to version and pack. */
function previewWorkspace(dir, packages) {
  for (const f of ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml', '.npmrc']) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f));
  }
  cpSync(join(root, '.changeset'), join(dir, '.changeset'), { recursive: true });
  const dirOf = new Map(packages.map((p) => [p.name, join(dir, relative(root, p.path))]));
  for (const p of packages) {
    const to = dirOf.get(p.name);
    mkdirSync(to, { recursive: true });
    for (const f of ['package.json', 'CHANGELOG.md']) {
      if (existsSync(join(p.path, f))) cpSync(join(p.path, f), join(to, f));
    }
    // The links `pnpm install` makes for workspace: dependencies, which pnpm publish reads
    // to turn `workspace:*` into the version it publishes.
    const pkg = readJson(join(p.path, 'package.json'));
    const deps = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];
    for (const [dep, spec] of deps.flatMap((f) => Object.entries(pkg[f] ?? {}))) {
      const target = dirOf.get(dep);
      if (!String(spec).startsWith('workspace:') || !target) continue;
      const link = join(to, 'node_modules', dep);
      mkdirSync(dirname(link), { recursive: true });
      if (!existsSync(link)) symlinkSync(relative(dirname(link), target), link);
    }
  }
}

/** What `files` names (and README/LICENSE), copied into the preview workspace. */
function copyPackageFiles(from, to) {
  const pkg = readJson(join(from, 'package.json'));
  const always = readdirSync(from).filter((f) => /^(readme|license|licence)(\..*)?$/i.test(f));
  for (const entry of [...(pkg.files ?? []), ...always]) {
    if (/[*?[{]/.test(entry)) fail(`${pkg.name}: glob in "files" (${entry}) is not supported here`);
    if (existsSync(join(from, entry)))
      cpSync(join(from, entry), join(to, entry), { recursive: true });
  }
}

function gitDir() {
  const res = spawnSync('git', ['rev-parse', '--absolute-git-dir'], {
    cwd: root,
    encoding: 'utf8',
  });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

function dryRunRelease() {
  const packages = workspacePackages();
  const privateNames = new Set(packages.filter((p) => p.private).map((p) => p.name));
  const preview = mkdtempSync(join(tmpdir(), 'chousei-release-'));
  try {
    previewWorkspace(preview, packages);
    console.log('Release dry run: nothing is published and nothing in the tree changes.');
    const pending = pendingChangesets();
    if (pending.length) {
      console.log(`\n== changeset version (pending: ${pending.join(', ')})`);
      // The real repository's history, read-only, so changelog lines name their commit.
      const git = gitDir();
      changeset(['version'], {
        cwd: preview,
        capture: true,
        env: git ? { ...process.env, GIT_DIR: git, GIT_WORK_TREE: preview } : process.env,
      });
    } else {
      console.log('\nNo pending changesets: the versions in the tree are the ones released.');
    }
    const plan = publishPlan(preview);
    if (plan.length === 0) {
      console.log('\nNothing to publish: every package version is on the registry already.');
      return;
    }
    const byName = new Map(packages.map((p) => [p.name, p]));
    for (const release of plan) {
      const { version: before } = byName.get(release.name);
      const dir = join(preview, relative(root, byName.get(release.name).path));
      console.log(`\n== ${release.name}: ${before} -> ${release.version} (npm tag ${release.tag})`);
      console.log(changelogEntry(join(dir, 'CHANGELOG.md'), release.version));
      const pinned = publishedWorkspaceDeps(readJson(join(dir, 'package.json')), preview, byName);
      if (pinned.length) console.log(`\nPublished with dependencies: ${pinned.join(', ')}`);
    }
    for (const c of chartsOf(plan)) {
      console.log(
        `\nChart ${c.path}: version ${c.version}, appVersion ${c.appVersion} -> ${c.release.version} (set by ./pnpmw version-packages)`,
      );
    }
    checkManifests(
      plan.map((r) => ({
        name: r.name,
        pkg: readJson(join(preview, relative(root, byName.get(r.name).path), 'package.json')),
      })),
      privateNames,
    );
    buildPackages(plan.map((r) => r.name));
    for (const release of plan) {
      const from = byName.get(release.name).path;
      copyPackageFiles(from, join(preview, relative(root, from)));
    }
    console.log('\n== tarballs (pnpm publish -r --dry-run --no-git-checks)');
    const out = run(
      'pnpm',
      [
        'publish',
        '-r',
        '--dry-run',
        '--no-git-checks',
        ...plan.flatMap((r) => ['--filter', r.name]),
      ],
      { cwd: preview, capture: true },
    );
    console.log(summarizeTarballs(out));
    console.log(`\nA release would tag: ${plan.map((r) => `${r.name}@${r.version}`).join(' ')}`);
  } finally {
    rmSync(preview, { recursive: true, force: true });
  }
}

function release() {
  const pending = pendingChangesets();
  if (pending.length) {
    fail(
      `pending changesets (${pending.join(', ')}): run \`pnpm changeset version\`, review and commit, then release`,
    );
  }
  const dirty = run('git', ['status', '--porcelain'], { capture: true }).trim();
  if (dirty) fail(`the tree has uncommitted changes:\n${dirty}`);
  const packages = workspacePackages();
  const privateNames = new Set(packages.filter((p) => p.private).map((p) => p.name));
  const plan = publishPlan(root);
  if (plan.length === 0) {
    console.log('Nothing to publish: every package version is on the registry already.');
    return;
  }
  const never = plan.filter((r) => r.version === '0.0.0').map((r) => r.name);
  if (never.length) fail(`0.0.0 is the never-released version: ${never.join(', ')}`);
  const stale = chartsOf(plan).filter(
    (c) => c.version !== c.release.version || c.appVersion !== c.release.version,
  );
  if (stale.length) {
    fail(
      `charts not at their operator's version (run \`pnpm version-packages\`, which sets them): ${stale
        .map(
          (c) =>
            `${c.path} ${c.version}/${c.appVersion} for ${c.release.name}@${c.release.version}`,
        )
        .join(', ')}`,
    );
  }
  const byName = new Map(packages.map((p) => [p.name, p]));
  checkManifests(
    plan.map((r) => ({
      name: r.name,
      pkg: readJson(join(byName.get(r.name).path, 'package.json')),
    })),
    privateNames,
  );
  buildPackages(plan.map((r) => r.name));
  console.log(`\n== changeset publish: ${plan.map((r) => `${r.name}@${r.version}`).join(' ')}`);
  changeset(['publish', ...publishArgs]);
}

try {
  if (dryRun) dryRunRelease();
  else release();
} catch (err) {
  if (!(err instanceof ReleaseError)) throw err;
  console.error(`release: ${err.message}`);
  process.exitCode = 1;
}
