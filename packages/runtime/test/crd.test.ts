import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { InvalidError } from '../src/client/errors.js';
import { resourceType } from '../src/client/resource.js';
import type { Condition, KubeObject } from '../src/client/types.js';
import { setCondition } from '../src/helpers/conditions.js';
import {
  ageColumn,
  conditionColumns,
  conditionsSchema,
  customResourceDefinition,
  type JSONSchemaProps,
} from '../src/helpers/crd.js';

const GROUP = 'crd.test.chousei.dev';

interface Gadget extends KubeObject {
  spec: { size: number };
  status?: { conditions?: Condition[] };
}
const Gadgets = resourceType<Gadget>(`${GROUP}/v1`, 'Gadget', 'gadgets', true);

const gadgetSchema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: { type: 'object', properties: { size: { type: 'integer', minimum: 0 } } },
    status: { type: 'object', properties: { conditions: conditionsSchema('Ready: usable.') } },
  },
};

const { status: ready, reason } = conditionColumns('Ready');
const gadgetCRD = customResourceDefinition({
  group: GROUP,
  version: 'v1',
  kind: 'Gadget',
  plural: 'gadgets',
  shortNames: ['gdg'],
  categories: ['chousei'],
  schema: gadgetSchema,
  printerColumns: [ready, { ...reason, priority: 1 }, ageColumn],
});

describe('customResourceDefinition', () => {
  it('names the CRD and its kind from group, kind and plural', () => {
    expect(gadgetCRD).toEqual({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.crd.test.chousei.dev' },
      spec: {
        group: GROUP,
        scope: 'Namespaced',
        names: {
          plural: 'gadgets',
          singular: 'gadget',
          kind: 'Gadget',
          listKind: 'GadgetList',
          shortNames: ['gdg'],
          categories: ['chousei'],
        },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            additionalPrinterColumns: [
              {
                name: 'Ready',
                type: 'string',
                jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              },
              {
                name: 'Reason',
                type: 'string',
                jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
                priority: 1,
              },
              { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            ],
            schema: { openAPIV3Schema: gadgetSchema },
          },
        ],
      },
    });
  });

  it('leaves out empty lists, and takes a cluster scope', () => {
    const crd = customResourceDefinition({
      group: GROUP,
      version: 'v1',
      kind: 'ClusterGadget',
      plural: 'clustergadgets',
      scope: 'Cluster',
      shortNames: [],
      schema: { type: 'object' },
    });
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toEqual({
      plural: 'clustergadgets',
      singular: 'clustergadget',
      kind: 'ClusterGadget',
      listKind: 'ClusterGadgetList',
    });
    expect(crd.spec.versions[0]).not.toHaveProperty('additionalPrinterColumns');
  });
});

describe('conditionsSchema', () => {
  const items = conditionsSchema().items!;

  it('describes every field and requires every field setCondition always writes', () => {
    const [written] = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Done' })
      .conditions as [Condition];
    expect(Object.keys(items.properties!).sort()).toEqual(
      ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type'].sort(),
    );
    expect([...items.required!].sort()).toEqual(Object.keys(written).sort());
    for (const [name, prop] of Object.entries(items.properties!)) {
      expect(prop.description, name).toBeTruthy();
    }
  });

  it('is a list-map keyed by type, with the description given', () => {
    expect(conditionsSchema('Ready: usable.')).toMatchObject({
      type: 'array',
      description: 'Ready: usable.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
  });
});

describe('a CRD from customResourceDefinition, at the API server', () => {
  let client: Client;
  let ns: string;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('crd');
    await cluster.apply([gadgetCRD]);
  });

  it('takes the conditions setCondition writes and refuses one missing a required field', async () => {
    const created = await client.create(Gadgets, {
      metadata: { name: 'g', namespace: ns },
      spec: { size: 1 },
    });
    const { conditions } = setCondition(undefined, {
      type: 'Ready',
      status: 'True',
      reason: 'Done',
      observedGeneration: 1,
    });
    const updated = await client.updateStatus(Gadgets, { ...created, status: { conditions } });
    expect(updated.status?.conditions).toEqual(conditions);

    const { lastTransitionTime: _, ...partial } = conditions[0]!;
    const err = await client
      .updateStatus(Gadgets, { ...updated, status: { conditions: [partial as Condition] } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).message).toMatch(/lastTransitionTime/);
  });
});
