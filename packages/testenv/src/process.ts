import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { StartTimeoutError } from './errors.js';
import { onPath } from './tools.js';

const MAX_OUTPUT = 64 * 1024;
const liveProcesses = new Set<ServerProcess>();

// Kill whatever is still running when the test process exits. Children are also started
// under `setpriv --pdeathsig`, so the kernel kills them if this process dies abruptly.
process.once('exit', () => {
  for (const p of liveProcesses) p.child.kill('SIGKILL');
});

export interface ServerProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A pipe to the process's stdin (`child.stdin`), e.g. for commands; default none. */
  stdin?: boolean;
}

/** A child process whose output is kept (bounded) for error messages. */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly name: string;
  private output = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  constructor(opts: ServerProcessOptions) {
    this.name = opts.name;
    const setpriv = onPath('setpriv');
    const [command, args] = setpriv
      ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', opts.command, ...opts.args]]
      : [opts.command, opts.args];
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-MAX_OUTPUT);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exitCode = code;
        liveProcesses.delete(this);
        resolve();
      });
      this.child.once('error', (err) => {
        keep(Buffer.from(`spawn failed: ${err.message}\n`));
        this.exitCode = -1;
        liveProcesses.delete(this);
        resolve();
      });
    });
    liveProcesses.add(this);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines the process wrote, for error messages. */
  tail(lines = 30): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the process at once, as a crash would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process, to simulate a stalled server. */
  pause(): void {
    this.child.kill('SIGSTOP');
  }
  resume(): void {
    this.child.kill('SIGCONT');
  }
}

/**
 * Polls `ready` every `intervalMs` until it resolves true; fails early if a process exits
 * (one, or any of several started together), and after `timeoutMs` with their output in
 * the error, naming `what` (default: the process).
 */
export async function waitUntilReady(
  procs: ServerProcess | ServerProcess[],
  ready: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  what?: string,
): Promise<void> {
  const list = Array.isArray(procs) ? procs : [procs];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = list.find((p) => !p.running);
    if (exited) {
      throw new Error(`${exited.name} exited during start; last output:\n${exited.tail()}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      const output =
        list.length === 1
          ? (list[0]?.tail() ?? '')
          : list.map((p) => `--- ${p.name}\n${p.tail(15)}`).join('\n');
      throw new StartTimeoutError(what ?? list.map((p) => p.name).join(', '), timeoutMs, output);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The controls of a server tests stop and start again (its data stays): `stopServer`,
 * `startServer`, and `stop`, which ends it for good and removes `dir` when given.
 */
export function restartControls(
  proc: () => ServerProcess | undefined,
  startServer: () => Promise<void>,
  dir?: string,
): { startServer(): Promise<void>; stopServer(): Promise<void>; stop(): Promise<void> } {
  return {
    stopServer: async () => {
      await proc()?.stop();
    },
    startServer,
    stop: async () => {
      await proc()?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
