/**
 * @module
 * Time, as the node sees it. The node never calls a timer or reads the system clock itself:
 * it is given a `Clock`, so a simulator can run the real node on virtual time.
 */

export interface Timer {
  /** Stops the timer if it has not fired; harmless afterwards. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (the origin is arbitrary). */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now. */
  setTimer(ms: number, fn: () => void): Timer;
  /**
   * Calls `fn` once the callbacks already due in this turn have run (the system clock: after
   * this turn's network and disk callbacks), so that the node takes one Ready for all the
   * requests and messages that arrived together rather than one each. Default: a microtask.
   */
  defer?(fn: () => void): void;
  /**
   * Milliseconds of a clock that keeps counting while this process or its machine is stopped
   * (the system's wall clock; a monotonic clock does not count a suspended machine). Lease
   * reads hold only while both clocks say so. Absent: the monotonic clock alone.
   */
  wallNow?(): number;
}
