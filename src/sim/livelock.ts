/**
 * @module
 * Livelock detection by event rate. A livelock (messages bouncing without progress) shows as
 * a cluster busy without end; a follower catching up shows as a burst. So the alarm needs the
 * rate above its bound for several whole virtual seconds in a row, not one, or a single second
 * far above it (livelocks often grow: each heartbeat starts one more bouncing exchange, and the
 * simulator would spend minutes on a second of it).
 */

/** Consecutive busy seconds that make a livelock. */
export const LIVELOCK_SECONDS = 3;
/** A single second this many times over the bound is a livelock at once. */
export const LIVELOCK_SURGE = 5;

export class EventRateWatch {
  readonly #maxPerSecond: number;
  #second = 0;
  #secondStart = 0;
  /** Whole seconds over the bound just before the current one. */
  #busyRun = 0;
  /** The most events seen in one virtual second (windows aligned to whole seconds). */
  peak = 0;

  constructor(maxPerSecond: number) {
    this.#maxPerSecond = maxPerSecond;
  }

  /**
   * Called before each event with the virtual time and the events run so far. Returns a
   * description of the livelock once the bound has been passed in each of
   * LIVELOCK_SECONDS consecutive seconds, or LIVELOCK_SURGE times over in one; else null.
   */
  observe(nowMs: number, executed: number): string | null {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#second) {
      const previousBusy = executed - this.#secondStart > this.#maxPerSecond;
      this.#busyRun = previousBusy && second === this.#second + 1 ? this.#busyRun + 1 : 0;
      this.#second = second;
      this.#secondStart = executed;
    }
    const inSecond = executed - this.#secondStart;
    if (inSecond > this.peak) this.peak = inSecond;
    if (inSecond > this.#maxPerSecond * LIVELOCK_SURGE) {
      return `more than ${this.#maxPerSecond * LIVELOCK_SURGE} events in virtual second ${second}: a livelock`;
    }
    if (inSecond <= this.#maxPerSecond || this.#busyRun + 1 < LIVELOCK_SECONDS) return null;
    return (
      `more than ${this.#maxPerSecond} events in each of virtual seconds ` +
      `${second - LIVELOCK_SECONDS + 1}–${second}: a livelock`
    );
  }
}
