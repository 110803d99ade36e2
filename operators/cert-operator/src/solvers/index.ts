export { DNS01Solver, type DNS01SolverOptions, recordName } from './dns01/dns01.js';
export { HTTP01SelfCheckedSolver, type HTTP01SelfCheckOptions } from './http01/self-check.js';
export { HTTP01Solver } from './http01/server.js';
export { type Nameserver, parseNameserver } from './resolver.js';
export type { Challenge, Solver } from './solver.js';
