import { describe, expect, it, vi } from 'vitest';
import { ConfigError, Flags, flagsHelp, operatorFlags } from '../src/config/flags.js';
import { operatorSettings, runOperator } from '../src/config/operator.js';

const SPECS = {
  namespace: { type: 'string', short: 'n', help: 'Namespace' },
  all: { type: 'boolean', default: false, help: 'All of them' },
} as const;

describe('Flags', () => {
  it('reads one-letter aliases and, when asked for, operands', () => {
    const flags = new Flags(
      SPECS,
      'T',
      ['status', '-n', 'web', 'foo', '--all'],
      {},
      {
        positionals: true,
      },
    );
    expect(flags.str('namespace')).toBe('web');
    expect(flags.bool('all')).toBe(true);
    expect(flags.positionals).toEqual(['status', 'foo']);
  });

  it('tells given flags from defaulted ones', () => {
    const flags = new Flags(SPECS, 'T', ['--namespace', 'x'], { T_ALL: 'true' });
    expect([flags.given('namespace'), flags.given('all')]).toEqual([true, true]);
    expect(new Flags(SPECS, 'T', [], {}).given('all')).toBe(false);
  });

  it('refuses operands unless asked for', () => {
    expect(() => new Flags(SPECS, 'T', ['foo'], {})).toThrow(ConfigError);
  });

  it('shows aliases in the help', () => {
    expect(flagsHelp(SPECS, 'Usage: t', 'T')).toContain('  -n, --namespace VALUE\n');
  });
});

describe('runOperator', () => {
  const FLAGS = operatorFlags('op', { metrics: 1, health: 2, qps: 3, burst: 4 });
  const command = (run: () => Promise<number>) => ({
    name: 'op',
    parse: (argv: string[]) => {
      const flags = new Flags(FLAGS, 'OP', argv, { POD_NAMESPACE: 'ops' });
      return { ...operatorSettings(flags, { POD_NAMESPACE: 'ops' }), help: flags.bool('help') };
    },
    help: () => 'usage\n',
    run,
  });
  const capture = async (argv: string[], run: () => Promise<number> = async () => 0) => {
    const out: string[] = [];
    const err: string[] = [];
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0),
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0),
    ];
    try {
      const code = await runOperator(command(run), argv);
      return { code, out: out.join(''), err: err.join('') };
    } finally {
      for (const s of spies) s.mockRestore();
    }
  };

  it('reads the shared settings, with the Lease beside the pod and the name as its id', () => {
    const flags = new Flags(FLAGS, 'OP', ['--leader-elect', '--kube-api-qps', '50'], {
      POD_NAMESPACE: 'ops',
    });
    expect(operatorSettings(flags, { POD_NAMESPACE: 'ops' })).toEqual({
      kubeApi: { qps: 50, burst: 4 },
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'op',
      metricsPort: 1,
      healthPort: 2,
      bindAddress: '0.0.0.0',
      gracefulShutdownTimeoutMs: 30_000,
      logLevel: 'info',
    });
  });

  it("makes its Pod (POD_NAME, POD_UID) the Lease's owner, only in the Pod's namespace", () => {
    const env = { POD_NAMESPACE: 'ops', POD_NAME: 'op-7d9-x2', POD_UID: '0a1b' };
    const settings = (argv: string[]) => operatorSettings(new Flags(FLAGS, 'OP', argv, env), env);
    expect(settings([]).leaderElectionOwner).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'op-7d9-x2',
      uid: '0a1b',
    });
    // An owner in another namespace would have the garbage collector delete the Lease.
    expect(settings(['--leader-election-namespace', 'elsewhere']).leaderElectionOwner).toBe(
      undefined,
    );
  });

  it('reads the bind address from the flag or its variable, and refuses a non-IP', () => {
    const settings = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      operatorSettings(new Flags(FLAGS, 'OP', argv, env), env);
    expect(settings(['--bind-address', '127.0.0.1']).bindAddress).toBe('127.0.0.1');
    expect(settings([], { OP_BIND_ADDRESS: '::1' }).bindAddress).toBe('::1');
    expect(() => settings(['--bind-address', 'localhost'])).toThrow(
      new ConfigError(
        '--bind-address (OP_BIND_ADDRESS) must be an IP address, such as 127.0.0.1; got "localhost"',
      ),
    );
  });

  it('exits 2 naming the flag, 0 after --help, 1 with the error of a failed run', async () => {
    expect(await capture(['--metrics-port', 'x'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^op: invalid configuration: --metrics-port/),
    });
    expect(await capture(['--help'])).toMatchObject({ code: 0, out: 'usage\n' });
    const failed = await capture([], async () => {
      throw new Error('boom');
    });
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('op: Error: boom');
    expect((await capture([], async () => 7)).code).toBe(7);
  });
});
