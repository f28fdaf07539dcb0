/**
 * @module
 * A node's clock on virtual time. It runs at its own rate (clock drift: a node whose clock is
 * fast times out early), stops while the node is paused, and starts from an arbitrary origin,
 * as a monotonic clock does.
 */
import type { Clock, Timer } from '../node/index.js';
import type { Actor, Scheduler } from './scheduler.js';

export class SimClock implements Clock {
  readonly #scheduler: Scheduler;
  readonly #actor: Actor;
  #rate = 1;
  /** Local time at `#since` (in the actor's running time). */
  #base: number;
  #since: number;

  constructor(scheduler: Scheduler, actor: Actor, origin: number) {
    this.#scheduler = scheduler;
    this.#actor = actor;
    this.#base = origin;
    this.#since = this.#running();
  }

  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate from now on; local time stays continuous. */
  setRate(rate: number): void {
    this.#base = this.now();
    this.#since = this.#running();
    this.#rate = rate;
  }

  now(): number {
    return this.#base + (this.#running() - this.#since) * this.#rate;
  }

  /** Virtual time itself: it runs on while the node is paused, as a wall clock does. */
  wallNow(): number {
    return this.#scheduler.now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    // Timers already set keep their virtual due time when the rate changes later: a small
    // error in the one timer in flight, as a real clock adjusted mid-sleep would give.
    return this.#scheduler.after(ms / this.#rate, this.#actor, fn);
  }

  /** Virtual milliseconds the actor has been running (pauses excluded). */
  #running(): number {
    const now = this.#scheduler.now;
    const paused = this.#actor.pausedAt === null ? 0 : now - this.#actor.pausedAt;
    return now - this.#actor.pausedTotal - paused;
  }
}
