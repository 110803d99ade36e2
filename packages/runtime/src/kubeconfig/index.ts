export { type ClusterAccess, type ClusterEndpoint, KubeconfigError } from './access.js';
export { type InClusterOptions, inClusterAccess, SERVICE_ACCOUNT_DIR } from './in-cluster.js';
export {
  type KubeconfigAccess,
  type KubeconfigFileOptions,
  type KubeconfigFilesOptions,
  kubeconfigFromFile,
  kubeconfigFromFiles,
} from './kubeconfig-file.js';
export { type LoadKubeConfigOptions, loadKubeConfig } from './load.js';
