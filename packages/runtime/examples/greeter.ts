// An operator in one file: a Greeting custom resource, and a controller that keeps a
// ConfigMap with the greeting text beside each Greeting, reports a Ready condition and
// records Events. Tested by greeter.test.ts against a real API server.
import {
  type Condition,
  ConfigMaps,
  controllerReference,
  EventRecorder,
  type KubeObject,
  Manager,
  type ManagerOptions,
  notFoundIsUndefined,
  resourceType,
  setCondition,
} from '@chousei/runtime';

// 1. The custom resource: its TypeScript type, where it lives in the API, and its CRD.
export interface Greeting extends KubeObject {
  spec: { name: string; greeting?: string };
  status?: { conditions?: Condition[] };
}

export const Greetings = resourceType<Greeting>(
  'demo.chousei.dev/v1',
  'Greeting',
  'greetings',
  true,
);

export const greetingCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'greetings.demo.chousei.dev' },
  spec: {
    group: 'demo.chousei.dev',
    scope: 'Namespaced',
    names: { plural: 'greetings', singular: 'greeting', kind: 'Greeting' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  greeting: { type: 'string', default: 'Hello' },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

// 2. The controller: level-based, it reads the Greeting and converges its ConfigMap.
export function greeterManager(options: ManagerOptions): Manager {
  const manager = new Manager(options);
  const { client } = manager;
  const events = new EventRecorder(client, { controller: 'greeter' });

  manager
    .controller('greeter')
    .for(Greetings)
    .owns(ConfigMaps)
    .complete(async (req, ctx) => {
      const greeting = await manager.cache.get(Greetings, req).catch(notFoundIsUndefined);
      if (!greeting) return; // deleted: the ConfigMap goes with its owner

      const text = `${greeting.spec.greeting ?? 'Hello'}, ${greeting.spec.name}!`;
      await client.apply(
        ConfigMaps,
        {
          metadata: {
            name: `${req.name}-greeting`,
            namespace: req.namespace,
            ownerReferences: [controllerReference(greeting, Greetings)],
          },
          data: { text },
        },
        { fieldManager: 'greeter', force: true },
      );

      const { conditions, changed } = setCondition(greeting.status?.conditions, {
        type: 'Ready',
        status: 'True',
        reason: 'Greeted',
        message: text,
        observedGeneration: greeting.metadata?.generation,
      });
      if (changed) {
        await client.patchStatus(Greetings, req, {
          type: 'merge',
          patch: { status: { conditions } },
        });
        events.event(greeting, 'Normal', 'Greeted', 'Reconcile', text);
        ctx.log.info({ text }, 'greeted');
      }
    });
  return manager;
}
