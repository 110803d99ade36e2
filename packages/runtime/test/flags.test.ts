import { describe, expect, it } from 'vitest';
import { ConfigError, Flags, flagsHelp } from '../src/config/flags.js';

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
