// Removing what a node leaves on the host once its components are stopped, or after the
// process that owned it died: container processes and containerd's shims (which outlive
// containerd by design), mounts, cgroups, kubelet's log links, the network namespace.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ip, NETNS_PREFIX } from './network.js';

const run = promisify(execFile);

/** PIDs in a cgroup and its descendants. */
async function cgroupPids(dir: string): Promise<number[]> {
  if (!existsSync(dir)) return [];
  const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map(Number);
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) pids.push(...(await cgroupPids(join(dir, e.name))));
  }
  return pids;
}

/** Removes a cgroup and its descendants, deepest first (only empty cgroups go). */
async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await removeCgroup(join(dir, e.name));
  }
  await rmdir(dir).catch(() => {});
}

/** Processes whose command line names `dir`: containerd's shims (`-address DIR/...`). */
async function processesNaming(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`${dir}/`)) pids.push(pid);
  }
  return pids;
}

const kill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
};

/** Mount points at or under `dir`, deepest (latest) first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .reverse();
}

/** The mounted cgroup hierarchies (v1: one per controller; v2: one). */
export async function cgroupHierarchies(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => /^cgroup2?$/.test(f[f.indexOf('-') + 1] ?? ''))
    .map((f) => f[4] as string);
}

/** Kills, unmounts and removes everything a node in `dir` under `cgroupRoot` left. */
export async function removeNodeLeftovers(dir: string, cgroupRoot: string): Promise<void> {
  const hierarchies = await cgroupHierarchies();
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = [
      ...(await Promise.all(hierarchies.map((h) => cgroupPids(join(h, cgroupRoot))))).flat(),
      ...(await processesNaming(dir)),
    ];
    if (!pids.length) break;
    pids.forEach(kill);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const m of await mountsUnder(dir)) await run('umount', ['--lazy', m]).catch(() => {});
  // kubelet links each container's log into /var/log/containers, a fixed folder.
  const links = '/var/log/containers';
  for (const name of await readdir(links).catch(() => [])) {
    const target = await readlink(join(links, name)).catch(() => '');
    if (target.startsWith(`${dir}/`)) await rm(join(links, name), { force: true });
  }
  for (const h of hierarchies) await removeCgroup(join(h, cgroupRoot));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Removes the nodes of test processes that died without stopping them (a crash, a SIGKILL):
 * their namespace is named after the owner's PID.
 */
export async function reapOrphanedNodes(): Promise<string[]> {
  const reaped: string[] = [];
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const owner = new RegExp(`^${NETNS_PREFIX}(\\d+)-[0-9a-f]{6}$`).exec(name)?.[1];
    if (!owner || alive(Number(owner))) continue;
    const dir = join(tmpdir(), name);
    await removeNodeLeftovers(dir, `/${name}`);
    await ip('netns', 'delete', name).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    reaped.push(name);
  }
  return reaped;
}
