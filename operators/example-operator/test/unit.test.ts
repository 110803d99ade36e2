// Pure functions, no API server: the selector semantics and the configuration.
import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, parseConfig } from '../src/config.js';
import { selects } from '../src/selector.js';

describe('selects (metav1.LabelSelector semantics)', () => {
  const labels = { team: 'web', tier: 'prod' };

  it('matches every term, and {} matches everything', () => {
    expect(selects({}, {})).toBe(true);
    expect(selects({ matchLabels: { team: 'web' } }, labels)).toBe(true);
    expect(selects({ matchLabels: { team: 'web', tier: 'dev' } }, labels)).toBe(false);
    expect(
      selects(
        {
          matchLabels: { team: 'web' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['prod', 'staging'] },
            { key: 'sandbox', operator: 'DoesNotExist' },
          ],
        },
        labels,
      ),
    ).toBe(true);
  });

  it('reads In, NotIn, Exists and DoesNotExist as the API server does', () => {
    const one = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) =>
      selects(
        { matchExpressions: [{ key: 'tier', operator, ...(values ? { values } : {}) }] },
        labels,
      );
    expect(one('In', ['dev'])).toBe(false);
    expect(one('NotIn', ['dev'])).toBe(true);
    expect(
      selects({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] }, labels),
    ).toBe(true);
    expect(one('Exists')).toBe(true);
    expect(one('DoesNotExist')).toBe(false);
    // Own labels only, never Object's properties.
    expect(
      selects({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, labels),
    ).toBe(false);
  });
});

describe('configuration', () => {
  it('reads flags, then CHOUSEI_EXAMPLE_* variables, then defaults', () => {
    const c = parseConfig(['--concurrency', '8', '--leader-elect'], {
      CHOUSEI_EXAMPLE_LOG_LEVEL: 'debug',
      POD_NAMESPACE: 'ops',
    });
    expect(c).toMatchObject({
      concurrency: 8,
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'chousei-example-operator',
      metricsPort: 8080,
      healthPort: 8081,
      logLevel: 'debug',
      help: false,
    });
  });

  it('names the flag and its variable in errors', () => {
    expect(() => parseConfig(['--concurrency', '0'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--concurrency', '0'], {})).toThrow(
      '--concurrency (CHOUSEI_EXAMPLE_CONCURRENCY) must be an integer from 1 to 100; got "0"',
    );
    expect(helpText()).toContain('--leader-elect');
  });
});
