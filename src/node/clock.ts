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
}
