export {
  DNS01Solver,
  type DNS01SolverOptions,
  type Nameserver,
  recordName,
} from './dns01/dns01.js';
export { HTTP01Solver } from './http01/server.js';
export type { Challenge, Solver } from './solver.js';
