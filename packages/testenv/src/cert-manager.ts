import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { goBuiltTool } from './controlplane.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';

const MODULE = 'github.com/cert-manager/cert-manager';

/** What build-controlplane.sh keys the cert-manager build on, besides the version. */
const HASHED = ['go.mod', 'go.sum', 'main.go'];

/**
 * cert-manager's controller (go/cert-manager: its controllers, defaults and issuers, started
 * as its own command starts them): TEST_ASSET_CERT_MANAGER, or the cached build.
 */
export const certManagerBinary = () =>
  goBuiltTool('cert-manager', MODULE, 'TEST_ASSET_CERT_MANAGER', {
    binary: 'cert-manager-controller',
    hashed: HASHED,
  });

/** cert-manager's CRDs, as the module the controller is built from ships them. */
export async function certManagerCrds(): Promise<KubernetesObject[]> {
  const text = await readFile(join(dirname(certManagerBinary()), 'crds.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o);
}

export interface CertManagerOptions {
  kubeconfig: string;
  /** cert-manager's --namespace: only this namespace's Ingresses and Certificates. */
  namespace?: string;
  /** More of its flags, e.g. `--default-issuer-name=ca`. */
  args?: string[];
}

/** A running cert-manager controller. */
export interface CertManager {
  process: ServerProcess;
  /** Stops it, as `kubectl scale --replicas=0` would. */
  stop(): Promise<void>;
}

/** Starts cert-manager's controller; resolves once every controller of it runs. */
export async function startCertManager(opts: CertManagerOptions): Promise<CertManager> {
  const port = await freePort();
  const proc = new ServerProcess({
    name: 'cert-manager-controller',
    command: certManagerBinary(),
    args: [
      `--kubeconfig=${opts.kubeconfig}`,
      `--healthz-listen-address=127.0.0.1:${port}`,
      ...(opts.namespace ? [`--namespace=${opts.namespace}`] : []),
      ...(opts.args ?? []),
    ],
  });
  await waitUntilReady(
    proc,
    async () => (await fetch(`http://127.0.0.1:${port}/livez`)).ok,
    30_000,
  );
  return { process: proc, stop: () => proc.stop() };
}
