/**
 * @module
 * Linearizability checking of recorded client histories.
 */
export { type Conflict, formatConflict } from './explain.js';
export { type KvInput, type KvOutput, kvModel } from './kv-model.js';
export {
  type CheckOptions,
  checkLinearizable,
  type HistoryOperation,
  type Model,
  type Verdict,
} from './linearizability.js';
