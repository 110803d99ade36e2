// Pure functions, no API server: the configuration (the selector is the runtime's).
import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, parseConfig } from '../src/config.js';

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
