import { describe, expect, it } from 'vitest';
import { ConfigError, FLAGS, helpText, parseConfig } from '../src/config.js';

const parse = (args: string[], env: Record<string, string> = {}) => parseConfig(args, env);

describe('configuration', () => {
  it('reads flags, then environment variables, then defaults', () => {
    const c = parse(
      [
        '--provider',
        'rfc2136',
        '--rfc2136-host',
        '10.0.0.53',
        '--rfc2136-zone',
        'example.com.,other.com',
      ],
      {
        CHOUSEI_DNS_TXT_OWNER_ID: 'cluster-1',
        CHOUSEI_DNS_RFC2136_TSIG_KEYNAME: 'k',
        CHOUSEI_DNS_RFC2136_TSIG_SECRET: 'c2VjcmV0',
        CHOUSEI_DNS_POLICY: 'upsert-only',
      },
    );
    expect(c.provider).toBe('rfc2136');
    expect(c.rfc2136).toEqual({
      host: '10.0.0.53',
      port: 53,
      zones: ['example.com', 'other.com'],
      tsig: { name: 'k', secret: 'c2VjcmV0', algorithm: 'hmac-sha256' },
    });
    expect(c.ownerId).toBe('cluster-1');
    expect(c.policy).toBe('upsert-only');
    expect(c.sources).toEqual(['ingress', 'service', 'dnsendpoint']);
    expect(c.resyncIntervalMs).toBe(600_000);
    expect(c.managedTypes).toEqual(['A', 'AAAA', 'CNAME']);
    expect(c.crossNamespaceClaims).toBe('refuse');
    expect(
      parse(['--provider', 'inmemory'], { CHOUSEI_DNS_CROSS_NAMESPACE_CLAIMS: 'merge' })
        .crossNamespaceClaims,
    ).toBe('merge');
  });

  it('fails with one message naming the flag and its variable', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        [],
        /--provider \(CHOUSEI_DNS_PROVIDER\) must be one of route53, rfc2136, pdns, webhook, inmemory/,
      ],
      [['--provider', 'rfc2136'], /--rfc2136-host \(CHOUSEI_DNS_RFC2136_HOST\) is required/],
      [['--provider', 'pdns'], /--pdns-server \(CHOUSEI_DNS_PDNS_SERVER\) is required/],
      [
        ['--provider', 'pdns', '--pdns-server', 'http://pdns:8081'],
        /--pdns-api-key \(CHOUSEI_DNS_PDNS_API_KEY\) is required with --provider pdns/,
      ],
      [
        ['--provider', 'pdns', '--pdns-server', 'pdns:8081'],
        /must be an http:\/\/ or https:\/\/ URL/,
      ],
      [
        ['--provider', 'inmemory', '--default-ttl=-5'],
        /--default-ttl .* must be an integer from 1/,
      ],
      [
        ['--provider', 'inmemory', '--resync-interval', 'often'],
        /--resync-interval .* must be a duration/,
      ],
      [['--provider', 'inmemory', '--source', 'pods'], /unknown source "pods"/],
      [
        ['--provider', 'inmemory', '--policy', 'yolo'],
        /--policy .* must be one of sync, upsert-only, create-only/,
      ],
      [['--provider', 'inmemory', '--txt-owner-id', 'a,b'], /--txt-owner-id/],
      [
        ['--provider', 'inmemory', '--cross-namespace-claims', 'allow'],
        /--cross-namespace-claims .* must be one of refuse, merge/,
      ],
      [['--provider', 'inmemory', '--no-such-flag'], /Unknown option '--no-such-flag'/],
      [
        [
          '--provider',
          'rfc2136',
          '--rfc2136-host',
          'h',
          '--rfc2136-zone',
          'z',
          '--rfc2136-tsig-keyname',
          'k',
        ],
        /go together/,
      ],
    ];
    for (const [args, message] of cases) {
      expect(() => parse(args), args.join(' ')).toThrowError(ConfigError);
      expect(() => parse(args), args.join(' ')).toThrowError(message);
    }
  });

  it('finding 14: a blank TSIG key name or secret is refused, never read as "unsigned"', () => {
    const rfc2136 = ['--provider', 'rfc2136', '--rfc2136-host', 'h', '--rfc2136-zone', 'z'];
    const owner = { CHOUSEI_DNS_TXT_OWNER_ID: 'o' };
    const cases: Array<[string[], Record<string, string>, string]> = [
      // Both blank, as a chart renders them from an empty Secret key and an unset value.
      [
        [...rfc2136, '--rfc2136-tsig-keyname=', '--rfc2136-tsig-secret='],
        {},
        '--rfc2136-tsig-keyname (CHOUSEI_DNS_RFC2136_TSIG_KEYNAME) is set but blank',
      ],
      [
        rfc2136,
        { CHOUSEI_DNS_RFC2136_TSIG_KEYNAME: 'k', CHOUSEI_DNS_RFC2136_TSIG_SECRET: ' \n' },
        '--rfc2136-tsig-secret (CHOUSEI_DNS_RFC2136_TSIG_SECRET) is blank',
      ],
      [
        rfc2136,
        { CHOUSEI_DNS_RFC2136_TSIG_SECRET: '' },
        '--rfc2136-tsig-secret (CHOUSEI_DNS_RFC2136_TSIG_SECRET) is blank',
      ],
      [
        [...rfc2136, '--rfc2136-tsig-keyname', 'k', '--rfc2136-tsig-secret', 'not base64!'],
        {},
        '--rfc2136-tsig-secret (CHOUSEI_DNS_RFC2136_TSIG_SECRET) is not base64',
      ],
    ];
    for (const [args, env, message] of cases) {
      expect(() => parse(args, { ...owner, ...env }), args.join(' ')).toThrowError(message);
    }
    // Neither flag at all: unsigned, as documented.
    expect(parse(rfc2136, owner).rfc2136.tsig).toBeUndefined();
  });

  it('documents every flag and its variable in --help', () => {
    expect(parse(['--help']).help).toBe(true);
    const text = helpText();
    for (const flag of Object.keys(FLAGS)) {
      expect(text).toContain(`--${flag}`);
      expect(text).toContain(`CHOUSEI_DNS_${flag.replace(/-/g, '_').toUpperCase()}`);
    }
  });
});

describe('difference 4: the external-dns flags the guide did not cover', () => {
  const rfc2136 = ['--provider', 'rfc2136', '--rfc2136-zone', 'example.com'];
  const tsig = {
    CHOUSEI_DNS_RFC2136_TSIG_KEYNAME: 'k',
    CHOUSEI_DNS_RFC2136_TSIG_SECRET: 'c2VjcmV0',
  };

  it('takes hmac-sha1 and hmac-sha224, which external-dns accepts, besides the strong ones', () => {
    for (const algorithm of ['hmac-sha1', 'hmac-sha224', 'hmac-sha512']) {
      const c = parse(
        [...rfc2136, '--rfc2136-host', 'ns1', '--rfc2136-tsig-secret-alg', algorithm],
        tsig,
      );
      expect(c.rfc2136.tsig?.algorithm).toBe(algorithm);
    }
  });

  it('refuses a repeated --rfc2136-host, which external-dns fails over between, instead of keeping the last', () => {
    expect(() => parse([...rfc2136, '--rfc2136-host', 'ns1', '--rfc2136-host', 'ns2'])).toThrow(
      /--rfc2136-host \(CHOUSEI_DNS_RFC2136_HOST\) is given 2 times: the dns-operator sends to one server/,
    );
  });

  it('takes --annotation-prefix, a domain and a slash', () => {
    const c = parse(['--provider', 'inmemory', '--annotation-prefix', 'internal.example.com/']);
    expect(c.annotationPrefix).toBe('internal.example.com/');
    expect(() => parse(['--provider', 'inmemory', '--annotation-prefix', 'internal'])).toThrow(
      ConfigError,
    );
  });
});
