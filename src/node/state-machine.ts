/**
 * @module
 * What the node applies committed commands to.
 */

export interface StateMachine {
  /**
   * Applies one committed command and returns its result, which resolves the proposal's
   * promise (on the node that proposed it). Called once per entry, in log order, on every
   * node. Must be deterministic and synchronous: the same commands in the same order give the
   * same state everywhere. A throw rejects the proposal with that error; the state machine
   * must then have changed nothing.
   */
  apply(command: Uint8Array, index: number): unknown;
}
