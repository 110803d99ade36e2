// scratch: how moto's ChangeResourceRecordSets and listing scale with zone size
import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { startMoto } from '@chousei/testenv';
const moto = await startMoto();
const zone = await moto.createHostedZone('scale.test');
const N = Number(process.env.N ?? 20000);
for (let done = 0; done < N; done += 500) {
  const changes = [];
  for (let i = done; i < done + 500; i++) {
    changes.push({ Action: 'CREATE' as const, ResourceRecordSet: { Name: `n${i}.scale.test`, Type: 'A' as const, TTL: 300, ResourceRecords: [{ Value: '192.0.2.1' }] } });
    changes.push({ Action: 'CREATE' as const, ResourceRecordSet: { Name: `a-n${i}.scale.test`, Type: 'TXT' as const, TTL: 300, ResourceRecords: [{ Value: '"heritage=external-dns,external-dns/owner=bench,external-dns/resource=ingress/x/y"' }] } });
  }
  const t = performance.now();
  await moto.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zone, ChangeBatch: { Changes: changes } }));
  const ms = performance.now() - t;
  if (done % 2500 === 0) console.log(`records ${done * 2}: batch of 1000 in ${ms.toFixed(0)} ms`);
}
const t = performance.now();
const all = await moto.listRecords(zone);
console.log(`list ${all.length} in ${(performance.now() - t).toFixed(0)} ms`);
await moto.stop();
