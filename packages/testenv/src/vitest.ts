// Test-file helpers for vitest: the shared control plane, and the suites every operator runs.
export { type AlertSuiteOptions, alertSuite } from './alert-suite.js';
export { type ChartSuiteOptions, chartSuite } from './chart-suite.js';
export { type ImageBundleSuiteOptions, imageBundleSuite } from './image-bundle-suite.js';
export { operatorKubeConfig, operatorServiceAccount, sharedCluster } from './shared-cluster.js';
