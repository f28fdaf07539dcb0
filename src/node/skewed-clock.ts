/**
 * @module
 * A clock that can be made to run fast or slow, or to jump: a hook reserved for testing (as
 * etcd compiles failpoints in), which `raftkit verify` drives through the HTTP API of a node
 * started with `RAFTKIT_TEST_HOOKS=clock`. Nothing else uses it.
 *
 * It wraps another clock. Its monotonic reading moves `rate` times as fast as the wrapped one
 * and may jump forward (never back: a monotonic clock that went back would be a different
 * bug); its wall clock may jump either way. Timers are set on the wrapped clock for `ms / rate`,
 * so a fast clock fires its timers early, as a fast oscillator does. A timer already set when
 * the rate changes keeps its old duration.
 */
import type { Clock, Timer } from './clock.js';

export interface ClockSkew {
  /** How fast the clock runs against real time (1 = true; within 0.1 to 10). */
  readonly rate: number;
  /** Milliseconds added to the monotonic clock by jumps so far. */
  readonly jumpedMs: number;
  /** Milliseconds added to (or taken from) the wall clock. */
  readonly wallOffsetMs: number;
}

export interface ClockSkewChange {
  readonly rate?: number;
  /** A forward jump of the monotonic clock, in milliseconds (0 or more). */
  readonly jumpMs?: number;
  /** A jump of the wall clock, in milliseconds (either sign). */
  readonly wallJumpMs?: number;
}

export class SkewedClock implements Clock {
  readonly #base: Clock;
  /** The reading of this clock at `#anchor` on the wrapped one. */
  #origin: number;
  #anchor: number;
  #rate = 1;
  #jumped = 0;
  #wallOffset = 0;

  constructor(base: Clock) {
    this.#base = base;
    this.#anchor = base.now();
    this.#origin = this.#anchor;
  }

  // Bound functions, as the system clock's are: the node may call them detached.
  readonly now = (): number => this.#origin + (this.#base.now() - this.#anchor) * this.#rate;

  readonly setTimer = (ms: number, fn: () => void): Timer =>
    this.#base.setTimer(ms / this.#rate, fn);

  readonly defer = (fn: () => void): void => {
    if (this.#base.defer !== undefined) this.#base.defer(fn);
    else queueMicrotask(fn);
  };

  readonly wallNow = (): number =>
    (this.#base.wallNow?.() ?? this.#base.now()) + this.#wallOffset + this.#jumped;

  get skew(): ClockSkew {
    return { rate: this.#rate, jumpedMs: this.#jumped, wallOffsetMs: this.#wallOffset };
  }

  /** Applies `change`; throws a RangeError (and changes nothing) for values out of range. */
  change(change: ClockSkewChange): ClockSkew {
    const { rate, jumpMs, wallJumpMs } = change;
    if (rate !== undefined && !(Number.isFinite(rate) && rate >= 0.1 && rate <= 10)) {
      throw new RangeError('rate must be a number from 0.1 to 10');
    }
    if (jumpMs !== undefined && !(Number.isFinite(jumpMs) && jumpMs >= 0 && jumpMs <= 3_600_000)) {
      throw new RangeError(
        'jumpMs must be from 0 to 3600000 (the monotonic clock never goes back)',
      );
    }
    if (
      wallJumpMs !== undefined &&
      !(Number.isFinite(wallJumpMs) && Math.abs(wallJumpMs) <= 1e10)
    ) {
      throw new RangeError('wallJumpMs must be a finite number of milliseconds');
    }
    // Re-anchor at the current reading, so that a new rate applies from now on.
    this.#origin = this.now();
    this.#anchor = this.#base.now();
    if (rate !== undefined) this.#rate = rate;
    if (jumpMs !== undefined) {
      this.#origin += jumpMs;
      this.#jumped += jumpMs;
    }
    if (wallJumpMs !== undefined) this.#wallOffset += wallJumpMs;
    return this.skew;
  }
}
