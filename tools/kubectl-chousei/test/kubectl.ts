// Runs the built plugin the way users do: the real kubectl finds `kubectl-chousei` on PATH.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlPlaneBinary } from '@chousei/testenv';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export type Kubectl = (args: string[], env?: Record<string, string>) => Promise<Run>;

/**
 * A kubectl whose PATH holds a `kubectl-chousei` wrapper exec'ing this Node (24) on the
 * built dist/main.js. Only CHOUSEI_ variables the caller passes reach the plugin.
 */
export async function pluginKubectl(): Promise<Kubectl> {
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-chousei-'));
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  const wrapper = join(dir, 'kubectl-chousei');
  await writeFile(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${main}' "$@"\n`);
  await chmod(wrapper, 0o755);
  const kubectl = controlPlaneBinary('kubectl');
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && !e[0].startsWith('CHOUSEI_') && e[0] !== 'KUBECONFIG',
    ),
  );
  return (args, env = {}) =>
    new Promise((resolve) => {
      execFile(
        kubectl,
        args,
        {
          env: { ...base, PATH: `${dir}:${process.env.PATH}`, HOME: dir, ...env },
          timeout: 90_000,
        },
        (err, stdout, stderr) => {
          const code = err ? Number((err as { code?: number | string }).code ?? 1) : 0;
          resolve({ code: Number.isNaN(code) ? 1 : code, stdout, stderr });
        },
      );
    });
}
