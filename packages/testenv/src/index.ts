export { machine, percentile, pool, writeBenchResult } from './bench.js';
export {
  type Bind9,
  type Bind9Options,
  startBind9,
  type TsigAlgorithm,
  type TsigKey,
} from './bind9.js';
export {
  type CertManager,
  type CertManagerOptions,
  certManagerBinary,
  certManagerCrds,
  startCertManager,
} from './cert-manager.js';
export { type ConnectProxy, startConnectProxy } from './connect-proxy.js';
export {
  Cluster,
  type ClusterHandle,
  CONTROL_PLANE_VERSIONS,
  ControlPlane,
  type ControlPlaneOptions,
  controlPlaneBinary,
  startControlPlane,
} from './controlplane.js';
export { type Dig, digAt } from './dig.js';
export { type DnsGate, type GatedQuery, startDnsGate } from './dns-gate.js';
export { type Answerer, type DnsResponder, startDnsResponder } from './dns-responder.js';
export { MissingDependencyError, StartTimeoutError } from './errors.js';
export {
  type ExternalDnsBackend,
  type ExternalDnsWebhook,
  type ExternalDnsWebhookOptions,
  externalDnsBinary,
  externalDnsCrd,
  externalDnsOnce,
  externalDnsWebhookBinary,
  startExternalDnsWebhook,
} from './external-dns.js';
export {
  type Fault,
  type FaultProxy,
  type ProxiedRequest,
  ROUTE53_THROTTLING,
  route53Operation,
  SERVICE_UNAVAILABLE,
  startFaultProxy,
} from './fault-proxy.js';
export {
  type GatewayApiChannel,
  gatewayApiCrds,
  gatewayApiVersion,
  installGatewayApi,
} from './gateway-api.js';
export {
  type ChartOptions,
  helmBinary,
  installChart,
  lintChart,
  type ReleaseOptions,
  renderChart,
  type TemplateOptions,
  templateChart,
  uninstallChart,
} from './helm.js';
export {
  assembleBundle,
  type Bundle,
  DEV_ONLY_PACKAGES,
  type DockerfileFacts,
  type DockerfileStage,
  dockerfileFacts,
  imageNodeFlags,
  operatorCommand,
  parseDockerfile,
  pnpmEntryName,
  renderDockerfile,
} from './image-bundle.js';
export { type Moto, startMoto } from './moto.js';
export {
  buildOperatorImage,
  dockerfileBases,
  NODE_BUILD_IMAGE,
  type OperatorImage,
} from './node/buildah.js';
export {
  baseImages,
  type ClusterOptions,
  type LocalCluster,
  NODE_IMAGE,
  node24,
  startCluster,
} from './node/cluster.js';
export {
  cachedImage,
  type ImageArchive,
  type ImageSpec,
  NONROOT,
  nodeBuildImageSpec,
  nodeImageSpec,
  pauseImageSpec,
} from './node/images.js';
export { type IngressController, routeFor, startIngressController } from './node/ingress.js';
export { NODE_ADDRESSES, NodeNetwork } from './node/network.js';
export { KubeNode, type NodeOptions, PAUSE_IMAGE } from './node/node.js';
export { mountsUnder, reapOrphanedNodes } from './node/teardown.js';
export {
  type IdleRss,
  type IdleRssOptions,
  type LogLine,
  type MetricSample,
  type OperatorProcess,
  type OperatorProcessOptions,
  parseMetrics,
  RssSampler,
  rssMb,
  startOperatorProcess,
  sumMetric,
} from './operator-process.js';
export {
  type Pebble,
  type PebbleNetwork,
  type PebbleOptions,
  pebbleBinary,
  startPebble,
} from './pebble.js';
export { createCA, issueCert, type KeyPair } from './pki.js';
export { freePort } from './ports.js';
export { type PowerDNS, type PowerDNSOptions, startPowerDNS } from './powerdns.js';
export { ServerProcess, type ServerProcessOptions, waitUntilReady } from './process.js';
export {
  type Prometheus,
  type PrometheusAlert,
  type PrometheusOptions,
  type PrometheusRuleSpec,
  type PrometheusSample,
  prometheusBinary,
  prometheusOperatorCrds,
  promtool,
  promtoolBinary,
  type RuleFile,
  ruleFileOf,
  type ScrapeJob,
  scrapeJobOf,
  startPrometheus,
} from './prometheus.js';
export {
  dashboardQueries,
  type MetricCheckOptions,
  type MetricQuery,
  missingMetrics,
  type PromqlNames,
  type PromqlSelector,
  promqlNames,
  ruleQueries,
} from './promql.js';
export {
  type AuditedRequest,
  auditedRequests,
  describePermission,
  grantedPermissions,
  type Permission,
  permissionReport,
  rbacObjects,
} from './rbac.js';
