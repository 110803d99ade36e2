import { startPowerDNS } from '@chousei/testenv';
import { providerConformance } from '../src/provider/conformance.js';
import { PowerDNSProvider } from '../src/provider/powerdns/index.js';
import type { RecordSet } from '../src/records.js';
import { digValues } from './dig.js';

providerConformance('pdns (PowerDNS 4, sqlite3 backend)', async () => {
  const pdns = await startPowerDNS({ zones: ['example.test'] });
  const provider = new PowerDNSProvider({ server: pdns.apiUrl, apiKey: pdns.apiKey });
  const zone = (await provider.zones()).find((z) => z.name === 'example.test')!;
  return {
    provider,
    zone,
    lookup: (name: string, type: RecordSet['type']) => digValues(pdns, name, type),
    stop: () => pdns.stop(),
  };
});
