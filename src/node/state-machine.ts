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
  /**
   * Freezes the state as it is now (after the last command applied) and returns its bytes as
   * chunks, produced one at a time while commands go on applying. Must be cheap to call: the
   * node calls it between two commands and then writes the chunks as they come. The node
   * consumes the iterable to its end or closes it early (`return()`), once, and takes one
   * snapshot at a time. Without it (and `restoreSnapshot`) the node never snapshots.
   */
  takeSnapshot?(): AsyncIterable<Uint8Array>;
  /**
   * Replaces the state with the one in `chunks` (bytes `takeSnapshot` produced, on this node
   * or another). On a damaged or foreign snapshot it throws and leaves the state unchanged.
   */
  restoreSnapshot?(chunks: AsyncIterable<Uint8Array>): Promise<void>;
}
