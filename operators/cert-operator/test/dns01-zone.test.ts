import { type Bind9, startBind9 } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuanceError } from '../src/issuance.js';
import { enclosingNames, soaZoneFinder, ZoneLookupError } from '../src/solvers/dns01/zone.js';

describe('enclosingNames', () => {
  it('lists the name and each parent down to the top-level label', () => {
    expect(enclosingNames('_acme-challenge.www.example.test')).toEqual([
      '_acme-challenge.www.example.test',
      'www.example.test',
      'example.test',
      'test',
    ]);
    expect(enclosingNames('test')).toEqual(['test']);
  });
});

describe('soaZoneFinder against BIND9', () => {
  let bind: Bind9;

  beforeAll(async () => {
    // One zone inside the other, on one server: only its SOA answers tell them apart.
    bind = await startBind9({
      zones: ['example.test', 'team.example.test'],
      records: { 'example.test': ['www 300 IN A 192.0.2.1'] },
    });
  });
  afterAll(() => bind?.stop());

  it('finds the apex of the most specific zone, past names that do not exist or have no SOA', async () => {
    const findZone = soaZoneFinder(bind);
    const zoneOf = async (fqdn: string) => (await findZone(fqdn)).name;
    // NXDOMAIN for the record, NODATA for www (an A record only), then the apex.
    expect(await zoneOf('_acme-challenge.www.example.test')).toBe('example.test');
    expect(await zoneOf('_acme-challenge.example.test')).toBe('example.test');
    expect(await zoneOf('_acme-challenge.team.example.test')).toBe('team.example.test');
    expect(await zoneOf('_acme-challenge.a.b.team.example.test')).toBe('team.example.test');
    expect(await findZone('_acme-challenge.team.example.test')).toEqual({
      id: 'team.example.test',
      name: 'team.example.test',
    });
  });

  it('asks a nameserver given by host name at its address', async () => {
    const findZone = soaZoneFinder({ host: 'localhost', port: bind.port });
    expect((await findZone('_acme-challenge.www.example.test')).name).toBe('example.test');
  });

  it('fails a name in no zone the server serves, naming the name and the server', async () => {
    const err = await soaZoneFinder(bind)('_acme-challenge.www.nowhere.test').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ZoneLookupError);
    expect(err).toBeInstanceOf(IssuanceError);
    expect(err).toMatchObject({
      reason: 'DNSZoneLookupFailed',
      retryable: true,
      fqdn: '_acme-challenge.www.nowhere.test',
      server: bind.address,
    });
    expect((err as Error).message).toBe(
      `finding the zone of _acme-challenge.www.nowhere.test: the SOA query for _acme-challenge.www.nowhere.test to ${bind.address} failed: EREFUSED (does it serve a zone holding the name?)`,
    );
  });

  it('answers zones it found from its cache while the server is down, and fails others', async () => {
    const findZone = soaZoneFinder(bind);
    expect((await findZone('_acme-challenge.cached.example.test')).name).toBe('example.test');
    await bind.stopServer();
    try {
      expect((await findZone('_acme-challenge.cached.example.test')).name).toBe('example.test');
      const err = await findZone('_acme-challenge.other.example.test').catch((e: unknown) => e);
      expect(err).toMatchObject({ reason: 'DNSZoneLookupFailed', retryable: true });
      expect((err as Error).message).toContain(`to ${bind.address} failed: ECONNREFUSED`);
    } finally {
      await bind.startServer();
    }
    // The failure was not kept: once the server is back, the name is found.
    expect((await findZone('_acme-challenge.other.example.test')).name).toBe('example.test');
  });
});
