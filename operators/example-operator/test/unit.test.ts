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

  it('serves the admission webhooks with --webhook-service and --webhook-configuration, naming what is missing', () => {
    const args = ['--webhook-service', 'example-operator-webhook'];
    expect(
      parseConfig([...args, '--webhook-configuration', 'example-operator'], {
        POD_NAMESPACE: 'ops',
      }).webhook,
    ).toEqual({
      port: 9443,
      serviceName: 'example-operator-webhook',
      namespace: 'ops',
      configurationName: 'example-operator',
    });
    expect(parseConfig([], {}).webhook).toBeUndefined();
    expect(() => parseConfig(args, {})).toThrow(
      '--webhook-service (CHOUSEI_EXAMPLE_WEBHOOK_SERVICE) needs --webhook-configuration (CHOUSEI_EXAMPLE_WEBHOOK_CONFIGURATION)',
    );
    expect(() =>
      parseConfig(['--webhook-service', 'Bad_Name', '--webhook-configuration', 'x'], {}),
    ).toThrow('must be a Service name (a DNS label); got "Bad_Name"');
  });
});
