import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { startMoto } from '@chousei/testenv';
import { providerConformance } from '../src/provider/conformance.js';
import { Route53Provider } from '../src/provider/route53/index.js';

providerConformance('route53', async () => {
  const moto = await startMoto();
  const aws = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
  const created = await new Route53Client(aws).send(
    new CreateHostedZoneCommand({ Name: 'example.test', CallerReference: 'conformance' }),
  );
  const id = created.HostedZone!.Id!.replace('/hostedzone/', '');
  const provider = new Route53Provider({ ...aws, zoneFilter: { zoneIds: [id] } });
  return { provider, zone: { id, name: 'example.test' }, stop: () => moto.stop() };
});
