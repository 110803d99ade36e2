import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { request } from 'node:https';
import { promisify } from 'node:util';
import {
  CreateHostedZoneCommand,
  ListHostedZonesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { describe, expect, it, vi } from 'vitest';
import {
  freePort,
  MissingDependencyError,
  startBind9,
  startDnsResponder,
  startMoto,
  startPebble,
  startPowerDNS,
  startPrometheus,
} from '../src/index.js';
import { requireDebian } from '../src/tools.js';

const run = promisify(execFile);

function httpsGet(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { 'User-Agent': 'chousei-testenv-test' };
    const req = request(url, { headers, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pebble', () => {
  it('serves an ACME directory over TLS that the returned CA verifies', async () => {
    const pebble = await startPebble();
    try {
      const dir = await httpsGet(pebble.directoryUrl, pebble.tlsCaPem);
      expect(dir.status).toBe(200);
      expect(JSON.parse(dir.body)).toHaveProperty('newOrder');
      await expect(httpsGet(pebble.directoryUrl)).rejects.toThrow(/self.signed|unable to verify/i);
      expect(await pebble.rootCertificate()).toMatch(/-----BEGIN CERTIFICATE-----/);
    } finally {
      await pebble.stop();
    }
  });
});

describe('bind9', () => {
  it('applies a TSIG-signed update, visible with dig, and refuses an unsigned one', async () => {
    const bind = await startBind9({ zones: ['example.test', 'other.test'] });
    try {
      const nsupdate = requireDebian('nsupdate', 'bind9-dnsutils');
      const script = (name: string, ip: string) =>
        `server 127.0.0.1 ${bind.port}\nzone example.test\nupdate add ${name} 60 A ${ip}\nsend\n`;
      const { tsig } = bind;
      const signed = execFile(nsupdate, ['-y', `${tsig.algorithm}:${tsig.name}:${tsig.secret}`]);
      signed.stdin?.end(script('www.example.test', '192.0.2.10'));
      await new Promise((resolve) => signed.once('exit', resolve));
      expect(signed.exitCode).toBe(0);
      expect(await bind.dig('www.example.test', 'A')).toEqual(['192.0.2.10']);

      const unsigned = execFile(nsupdate, []);
      let stderr = '';
      unsigned.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      unsigned.stdin?.end(script('evil.example.test', '192.0.2.66'));
      await new Promise((resolve) => unsigned.once('exit', resolve));
      expect(unsigned.exitCode).not.toBe(0);
      expect(stderr).toMatch(/REFUSED/);
      expect(await bind.dig('evil.example.test', 'A')).toEqual([]);
      expect(await bind.dig('other.test', 'SOA')).toHaveLength(1);
    } finally {
      await bind.stop();
    }
  });

  it('allows zone transfer with the key only', async () => {
    const bind = await startBind9();
    try {
      const dig = requireDebian('dig', 'bind9-dnsutils');
      const { tsig } = bind;
      const axfr = await run(dig, [
        '@127.0.0.1',
        '-p',
        String(bind.port),
        '-y',
        `${tsig.algorithm}:${tsig.name}:${tsig.secret}`,
        'example.test',
        'AXFR',
      ]);
      expect(axfr.stdout).toMatch(/ns\.example\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1/);
      const denied = await run(dig, [
        '@127.0.0.1',
        '-p',
        String(bind.port),
        'example.test',
        'AXFR',
      ]);
      expect(denied.stdout).toMatch(/Transfer failed/);
    } finally {
      await bind.stop();
    }
  });
});

describe('moto', () => {
  it('creates a hosted zone through @aws-sdk/client-route-53', async () => {
    const moto = await startMoto();
    try {
      const r53 = new Route53Client({
        region: moto.region,
        endpoint: moto.endpoint,
        credentials: moto.credentials,
      });
      const created = await r53.send(
        new CreateHostedZoneCommand({ Name: 'example.test', CallerReference: 'testenv-1' }),
      );
      expect(created.HostedZone?.Name).toBe('example.test.');
      const zones = await r53.send(new ListHostedZonesCommand({}));
      expect(zones.HostedZones?.map((z) => z.Name)).toEqual(['example.test.']);
      await moto.reset();
      expect((await r53.send(new ListHostedZonesCommand({}))).HostedZones).toEqual([]);
    } finally {
      await moto.stop();
    }
  });
});

describe('powerdns', () => {
  it('serves its zones over DNS and takes rrset changes through its API with the key only', async () => {
    const pdns = await startPowerDNS({ zones: ['example.test'] });
    try {
      const patch = (key: string) =>
        fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones/example.test.`, {
          method: 'PATCH',
          headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            rrsets: [
              {
                name: 'www.example.test.',
                type: 'A',
                ttl: 60,
                changetype: 'REPLACE',
                records: [{ content: '192.0.2.5', disabled: false }],
              },
            ],
          }),
        });
      expect((await patch('wrong')).status).toBe(401);
      expect(await pdns.dig('www.example.test', 'A')).toEqual([]);
      expect((await patch(pdns.apiKey)).status).toBe(204);
      expect(await pdns.dig('www.example.test', 'A')).toEqual(['192.0.2.5']);
    } finally {
      await pdns.stop();
    }
  });
});

describe('dns responder', () => {
  it('answers from its function over UDP and TCP, long TXT split into strings', async () => {
    const long = 'x'.repeat(300);
    const responder = await startDnsResponder(async (name, type) =>
      name === 'hello.example.test' && type === 'TXT' ? ['hi there', long] : undefined,
    );
    const dig = (...args: string[]) =>
      run(requireDebian('dig', 'bind9-dnsutils'), [
        '@127.0.0.1',
        '-p',
        String(responder.port),
        '+short',
        ...args,
      ]).then((r) => r.stdout.trim().split('\n').sort());
    try {
      const expected = ['"hi there"', `"${'x'.repeat(255)}" "${'x'.repeat(45)}"`].sort();
      expect(await dig('hello.example.test', 'TXT')).toEqual(expected);
      expect(await dig('+tcp', 'hello.example.test', 'TXT')).toEqual(expected);
      const { stdout } = await run(requireDebian('dig', 'bind9-dnsutils'), [
        '@127.0.0.1',
        '-p',
        String(responder.port),
        'nothing.example.test',
        'TXT',
      ]);
      expect(stdout).toContain('status: NXDOMAIN');
    } finally {
      await responder.stop();
    }
  });
});

describe('prometheus', () => {
  it('scrapes a target with its labels kept, evaluates rules and fires their alerts', async () => {
    let ready = 0;
    const target = createServer((_, res) => {
      res.end(`# TYPE ready gauge\nready{namespace="apps",job="theirs"} ${ready}\n`);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => target.listen(port, '127.0.0.1', resolve));
    const prometheus = await startPrometheus({
      jobs: [{ job: 'op', honorLabels: true, path: '/metrics', targets: [`127.0.0.1:${port}`] }],
      rules: {
        groups: [
          {
            name: 'g',
            rules: [
              { alert: 'NotReady', expr: 'ready == 0', for: '2s', labels: { severity: 'x' } },
            ],
          },
        ],
      },
    });
    try {
      const firing = await vi.waitFor(
        async () => {
          const alert = (await prometheus.alerts()).find((a) => a.state === 'firing');
          if (!alert) throw new Error('no alert firing yet');
          return alert;
        },
        { timeout: 10_000, interval: 200 },
      );
      // honor_labels: the target's own job and namespace win over the scrape's.
      expect(firing.labels).toEqual({
        alertname: 'NotReady',
        severity: 'x',
        namespace: 'apps',
        job: 'theirs',
        instance: `127.0.0.1:${port}`,
      });
      expect(await prometheus.targets()).toEqual([{ job: 'op', health: 'up', lastError: '' }]);
      ready = 1;
      await vi.waitFor(async () => expect(await prometheus.alerts()).toEqual([]), {
        timeout: 10_000,
        interval: 200,
      });
      expect((await prometheus.query('ready')).map((s) => s.value[1])).toEqual(['1']);
      await expect(prometheus.query('ready{')).rejects.toThrow(/Prometheus query.*parse error/);
    } finally {
      await prometheus.stop();
      target.close();
    }
  });
});

describe('missing dependencies', () => {
  it('names the missing command and how to install it', () => {
    expect(() => requireDebian('chousei-no-such-command', 'no-such-package')).toThrowError(
      new MissingDependencyError(
        'chousei-no-such-command',
        'apt-get install -y no-such-package  (or bash scripts/setup.sh (from the repository root))',
      ),
    );
  });
});
