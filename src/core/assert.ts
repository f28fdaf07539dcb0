/**
 * @module
 * Assertions for invariants. A failed assertion is a bug (or a broken caller contract) and must
 * stop the node; operating errors (bad input, unknown peers) are returned, never asserted.
 */
import { AssertionError } from './errors.js';

export function assert(condition: boolean, detail: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof detail === 'string' ? detail : detail());
}
