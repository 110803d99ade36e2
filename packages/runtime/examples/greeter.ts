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

// 2. The controller: level-based. The runtime reads each Greeting from its cache and hands
// it over; the reconcile converges the ConfigMap and returns the status, which the runtime
// writes once, and only when it changed.
export function greeterManager(options: ManagerOptions): Manager {
  const manager = new Manager(options);
  const { client } = manager;
  const events = new EventRecorder(client, { controller: 'greeter' });

  manager
    .controller('greeter')
    .for(Greetings)
    .owns(ConfigMaps)
    .reconcileObjects({
      async reconcile(greeting, ctx) {
        const text = `${greeting.spec.greeting ?? 'Hello'}, ${greeting.spec.name}!`;
        await client.apply(
          ConfigMaps,
          {
            metadata: {
              name: `${greeting.metadata?.name}-greeting`,
              namespace: greeting.metadata?.namespace,
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
          events.event(greeting, 'Normal', 'Greeted', 'Reconcile', text);
          ctx.log.info({ text }, 'greeted');
        }
        return { status: { conditions } };
      },
      // No finalizer, no deleted(): the ConfigMap goes with its owner (garbage collection).
    });
  return manager;
}
