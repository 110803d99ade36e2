// The operators' Helm charts as the e2e suites use them without nodes: what `helm install`
// creates that a process needs (CRDs, ServiceAccount, RBAC), and the command line and
// environment the chart's Deployment gives its container, as a kubelet would.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Client, Secrets } from '@chousei/runtime';
import { type ControlPlane, rbacObjects } from '@chousei/testenv';

export type OperatorName = 'dns-operator' | 'cert-operator';
/** What renderChart returns. */
type KubernetesObject = Parameters<typeof rbacObjects>[0][number];

const require = createRequire(import.meta.url);
/** An operator's package directory, found through the workspace dependency on it. */
export const packageDir = (name: OperatorName) =>
  dirname(dirname(require.resolve(`@chousei/${name}`)));
export const chartDir = (name: OperatorName) => join(packageDir(name), 'deploy', 'chart');

/**
 * Applies a rendered chart's CRDs and RBAC in `namespace` and returns its ServiceAccount
 * with a kubeconfig file for it (valid `tokenSeconds`).
 */
export async function installChart(
  cluster: ControlPlane,
  namespace: string,
  objects: KubernetesObject[],
  tokenSeconds = 3600,
): Promise<{ serviceAccount: string; kubeconfig: string }> {
  await cluster.ensureNamespace(namespace);
  await cluster.apply(objects.filter((o) => o.kind === 'CustomResourceDefinition'));
  const rbac = rbacObjects(objects);
  await cluster.apply(rbac);
  const sa = rbac.find((o) => o.kind === 'ServiceAccount')?.metadata?.name;
  if (!sa) throw new Error(`the chart for ${namespace} renders no ServiceAccount`);
  const kc = await cluster.serviceAccountKubeConfig(namespace, sa, tokenSeconds);
  return {
    serviceAccount: sa,
    kubeconfig: await cluster.writeKubeconfig(kc, `${namespace}-${sa}.kubeconfig`),
  };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Container {
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ secretRef?: { name: string } }>;
}

/**
 * The arguments and environment of the operator container of a rendered chart's Deployment,
 * resolved as the kubelet does: `metadata.namespace` field references, and Secrets (by
 * key, or all their keys with envFrom) read from the cluster. The Pod's own name and uid
 * stay unset: there is no Pod (the operator then runs as it does outside a cluster).
 */
export async function deploymentCommand(
  objects: KubernetesObject[],
  client: Client,
): Promise<{ args: string[]; env: Record<string, string> }> {
  const deployment = objects.find((o) => o.kind === 'Deployment') as
    | (KubernetesObject & { spec: { template: { spec: { containers: Container[] } } } })
    | undefined;
  const container = deployment?.spec.template.spec.containers[0];
  if (!deployment || !container) throw new Error('the chart renders no Deployment container');
  const namespace = deployment.metadata?.namespace ?? 'default';
  const secret = async (name: string) => {
    const s = await client.get(Secrets, { namespace, name });
    return Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
  };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) Object.assign(env, await secret(from.secretRef.name));
  }
  for (const v of container.env ?? []) {
    const ref = v.valueFrom;
    if (v.value !== undefined) env[v.name] = v.value;
    else if (ref?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = namespace;
    else if (['metadata.name', 'metadata.uid'].includes(ref?.fieldRef?.fieldPath ?? '')) continue;
    else if (ref?.secretKeyRef) {
      const value = (await secret(ref.secretKeyRef.name))[ref.secretKeyRef.key];
      if (value === undefined)
        throw new Error(
          `${v.name}: Secret ${ref.secretKeyRef.name} has no ${ref.secretKeyRef.key}`,
        );
      env[v.name] = value;
    } else throw new Error(`${v.name}: a source this helper does not resolve`);
  }
  return { args: container.args ?? [], env };
}
