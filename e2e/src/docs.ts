// A page of docs/ read as a user reads it: the commands, files and manifests of a section,
// so the user-path suite runs what the page says rather than a copy that could drift.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** A `helm install` as the page writes it. */
export interface HelmInstall {
  release: string;
  /** The chart path, from the repository root. */
  chart: string;
  namespace: string;
  /** `--set` values, `{a,b}` lists as arrays. */
  set: Record<string, string | string[]>;
  /** `-f FILE` names. */
  valuesFiles: string[];
}

/** A section of a page: from its heading (exact text, without #) to the next heading. */
async function section(page: string, heading: string): Promise<string> {
  const path = fileURLToPath(new URL(`../../docs/${page}`, import.meta.url));
  const lines = (await readFile(path, 'utf8')).split('\n');
  // A `# comment` inside a code block is no heading.
  let fenced = false;
  const isHeading = lines.map((l) => {
    if (l.startsWith('```')) fenced = !fenced;
    return !fenced && /^#+ /.test(l);
  });
  const start = lines.findIndex((l, i) => isHeading[i] && l.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`docs/${page} has no section "${heading}"`);
  const end = lines.findIndex((_, i) => i > start && isHeading[i]);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The fenced code blocks of a section, with the last line before each (what introduces it). */
function codeBlocks(text: string): Array<{ lang: string; body: string; before: string }> {
  const blocks: Array<{ lang: string; body: string; before: string }> = [];
  const re = /(?:^|\n)([^\n]*)\n(?:[ \t]*\n)*```(\w*)\n([\s\S]*?)\n```/g;
  for (const m of text.matchAll(re)) blocks.push({ before: m[1]!, lang: m[2]!, body: m[3]! });
  return blocks;
}

/** Shell words of one command (backslash-continued lines joined, quotes removed). */
function words(command: string): string[] {
  const out: string[] = [];
  for (const m of command.replace(/\\\n/g, ' ').matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g))
    out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** The commands of a section's shell blocks, as words, comments dropped. */
async function commands(page: string, heading: string): Promise<string[][]> {
  return codeBlocks(await section(page, heading))
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.replace(/\\\n/g, ' ').split('\n'))
    .map((line) => words(line.replace(/\s+#.*$/, '')))
    .filter((w) => w.length > 0);
}

/** A page of docs/ (e.g. `getting-started.md`) and what its sections show. */
export function docsPage(page: string) {
  return {
    helmInstall: (heading: string) => helmInstallIn(page, heading),
    secrets: (heading: string) => secretsIn(page, heading),
    file: (heading: string, name: string) => fileIn(page, heading, name),
    manifest: (heading: string) => manifestIn(page, heading),
  };
}

/** The section's `helm install`. */
async function helmInstallIn(page: string, heading: string): Promise<HelmInstall> {
  const w = (await commands(page, heading)).find((c) => c[0] === 'helm' && c[1] === 'install');
  if (!w) throw new Error(`"${heading}" has no helm install`);
  const install: HelmInstall = {
    release: w[2]!,
    chart: w[3]!,
    namespace: 'default',
    set: {},
    valuesFiles: [],
  };
  for (let i = 4; i < w.length; i++) {
    const [flag, value] = [w[i]!, w[i + 1] ?? ''];
    if (flag === '-n' || flag === '--namespace') install.namespace = value;
    else if (flag === '-f' || flag === '--values') install.valuesFiles.push(value);
    else if (flag === '--set') {
      const eq = value.indexOf('=');
      const v = value.slice(eq + 1);
      install.set[value.slice(0, eq)] = /^\{.*\}$/.test(v) ? v.slice(1, -1).split(',') : v;
    } else continue;
    i++;
  }
  return install;
}

/** The Secrets a section creates (`kubectl create secret generic NAME --from-literal=K=V`): names and keys. */
async function secretsIn(
  page: string,
  heading: string,
): Promise<Array<{ name: string; namespace: string; keys: string[] }>> {
  return (await commands(page, heading))
    .filter((c) => c[0] === 'kubectl' && c.includes('secret') && c.includes('generic'))
    .map((c) => ({
      name: c[c.indexOf('generic') + 1]!,
      namespace: c[c.indexOf('-n') + 1] ?? 'default',
      keys: c.filter((x) => x.startsWith('--from-literal=')).map((x) => x.split('=')[1]!),
    }));
}

/** The YAML a section presents as the file `name` (the block after a line naming it). */
async function fileIn(page: string, heading: string, name: string): Promise<string> {
  const block = codeBlocks(await section(page, heading)).find(
    (b) => b.lang === 'yaml' && b.before.includes(`\`${name}\``),
  );
  if (!block) throw new Error(`"${heading}" shows no file ${name}`);
  return block.body;
}

/** The first YAML block of a section: a manifest it shows. */
async function manifestIn(page: string, heading: string): Promise<string> {
  const block = codeBlocks(await section(page, heading)).find((b) => b.lang === 'yaml');
  if (!block) throw new Error(`"${heading}" shows no manifest`);
  return block.body;
}
