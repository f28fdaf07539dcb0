/**
 * @module
 * Linearizability checking of recorded client histories.
 */
export { type KvInput, type KvOutput, kvModel } from './kv-model.js';
export {
  type CheckOptions,
  checkLinearizable,
  type Model,
  type Operation,
  type Verdict,
} from './linearizability.js';
