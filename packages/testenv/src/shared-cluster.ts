// What a test file reaches of the global setup: the shared control plane and the operator's
// ServiceAccount. (Also the module the suites build on, so they need not import vitest.ts.)
import type { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { Cluster, type ClusterHandle } from './controlplane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    chouseiCluster: string;
    chouseiOperator: string;
  }
}

let shared: Promise<Cluster> | undefined;

/** The control plane started by `@chousei/testenv/global-setup`, from a test file. */
export function sharedCluster(): Promise<Cluster> {
  shared ??= Cluster.attach(JSON.parse(inject('chouseiCluster')) as ClusterHandle);
  return shared;
}

/** The operator's ServiceAccount that `chartSetup` bound the chart's RBAC to. */
export function operatorServiceAccount(): { namespace: string; name: string } {
  const sa = inject('chouseiOperator');
  if (!sa) throw new Error('no operator ServiceAccount: use chartSetup() as the global setup');
  return JSON.parse(sa) as { namespace: string; name: string };
}

/** A client configuration with exactly the permissions the operator's chart grants. */
export async function operatorKubeConfig(): Promise<KubeConfig> {
  const { namespace, name } = operatorServiceAccount();
  return (await sharedCluster()).serviceAccountKubeConfig(namespace, name);
}
