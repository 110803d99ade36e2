import { ConfigError } from '@chousei/runtime';
import { describe, expect, it } from 'vitest';
import { helpText, parseConfig } from '../src/config.js';

describe('chousei-dns-webhook configuration', () => {
  it("takes the dns-operator's provider flags and variables, and where to listen", () => {
    const config = parseConfig(
      ['--provider', 'pdns', '--pdns-server', 'http://pdns:8081', '--listen-address', '[::1]:9999'],
      { CHOUSEI_DNS_PDNS_API_KEY: 'k' },
    );
    expect(config.provider).toBe('pdns');
    expect(config.pdns).toMatchObject({ server: 'http://pdns:8081', apiKey: 'k' });
    expect(config.listen).toEqual({ host: '::1', port: 9999 });
    expect(config.health).toEqual({ host: '0.0.0.0', port: 8080 });
  });

  it('refuses what it does not serve, naming the flag', () => {
    const cases: Array<[string[], string]> = [
      [
        ['--provider', 'inmemory', '--source', 'ingress'],
        '--source (CHOUSEI_DNS_SOURCE) is a dns-operator flag: chousei-dns-webhook serves a provider, nothing else',
      ],
      [
        ['--provider', 'webhook'],
        '--provider (CHOUSEI_DNS_PROVIDER): chousei-dns-webhook serves route53, rfc2136, pdns or inmemory, not another webhook',
      ],
      [
        ['--provider', 'inmemory', '--listen-address', '8888'],
        '--listen-address (CHOUSEI_DNS_LISTEN_ADDRESS) must be HOST:PORT; got "8888"',
      ],
    ];
    for (const [args, message] of cases) {
      expect(() => parseConfig(args, {}), args.join(' ')).toThrowError(ConfigError);
      expect(() => parseConfig(args, {}), args.join(' ')).toThrowError(message);
    }
  });

  it('documents the provider flags and its own in --help, and no operator-only flag', () => {
    const text = helpText();
    for (const flag of ['--provider', '--rfc2136-host', '--pdns-api-key', '--listen-address'])
      expect(text).toContain(flag);
    expect(text).not.toContain('--source');
    expect(text).not.toContain('--txt-owner-id');
  });
});
