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
   *
   * `time` is the log's time at this entry, in milliseconds: stamped by the leaders, never
   * moving back, the same on every node (see `command.ts`). Decide expiry by it, never by a
   * clock of your own, or nodes would disagree.
   */
  apply(command: Uint8Array, index: number, time: number): unknown;
}
