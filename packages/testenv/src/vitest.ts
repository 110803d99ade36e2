import { inject } from 'vitest';
import { Cluster, type ClusterHandle } from './controlplane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    chouseiCluster: string;
  }
}

let shared: Promise<Cluster> | undefined;

/** The control plane started by `@chousei/testenv/global-setup`, from a test file. */
export function sharedCluster(): Promise<Cluster> {
  shared ??= Cluster.attach(JSON.parse(inject('chouseiCluster')) as ClusterHandle);
  return shared;
}
