import { providerConformance } from '../src/provider/conformance.js';
import { InMemoryProvider } from '../src/provider/inmemory/inmemory.js';

providerConformance('inmemory', async () => {
  const provider = new InMemoryProvider(['example.test']);
  const [zone] = await provider.zones();
  return { provider, zone: zone!, stop: async () => {} };
});
