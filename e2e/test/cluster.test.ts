// Both operators installed as users install them: images built from the shipped
// Dockerfiles, running as Pods of a one-node cluster.
import { Pods } from '@chousei/runtime';
import { waitFor } from '@chousei/runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterStack, OPERATORS, startClusterStack } from '../src/cluster.ts';

describe('installed as users install it', () => {
  let stack: ClusterStack;

  beforeAll(async () => {
    stack = await startClusterStack();
    const { cluster, images } = stack;
    console.log(`cluster start to node Ready: ${cluster.readyAfterMs} ms`);
    for (const [name, image] of Object.entries(images)) {
      console.log(`${name} image: ${image.buildMs ? `built in ${image.buildMs} ms` : 'cached'}`);
    }
  }, 900_000);
  afterAll(() => stack?.stop());

  it('each image, built from its Dockerfile, runs its command as nonroot from a read-only root', async () => {
    const namespace = await stack.cluster.createNamespace('images');
    for (const name of OPERATORS) {
      await stack.client.create(Pods, {
        metadata: { name, namespace },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name,
              image: stack.images[name].name,
              imagePullPolicy: 'Never',
              args: ['--help'],
              securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
            },
          ],
        },
      });
    }
    for (const name of OPERATORS) {
      const pod = await waitFor(
        async () => {
          const p = await stack.client.get(Pods, { namespace, name });
          return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
        },
        { timeoutMs: 60_000, description: `Pod ${name} done` },
      );
      // Through the API server's egress to the kubelet, as `kubectl logs` goes.
      const logs = await stack.cluster.kubectl('logs', '-n', namespace, name);
      expect(pod.status?.phase, logs).toBe('Succeeded');
      expect(logs).toContain('--leader-elect');
    }
  });
});
