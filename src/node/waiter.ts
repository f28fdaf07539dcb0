/**
 * @module
 * A promise that the node settles later, with a deadline and an optional AbortSignal. The node
 * checks deadlines on its ticks rather than arming a timer per request: a thousand proposals
 * in flight cost one timer, not a thousand.
 */
import { AbortedError, TimeoutError } from './errors.js';

export class Waiter<T> {
  readonly promise: Promise<T>;
  readonly what: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  #resolve!: (value: T) => void;
  #reject!: (error: Error) => void;
  #settled = false;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  /** Called once when settled, to forget the waiter wherever it is filed. */
  #forget: () => void;
  /** Called once when settled, whatever `refile` did: the registry's own bookkeeping. */
  readonly #onSettle: (() => void) | undefined;

  constructor(
    what: string,
    now: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    forget: () => void,
    onSettle?: () => void,
  ) {
    this.#onSettle = onSettle;
    this.what = what;
    this.timeoutMs = timeoutMs;
    this.deadline = now + timeoutMs;
    this.#forget = forget;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) {
      if (signal.aborted) {
        this.reject(new AbortedError(what));
        return;
      }
      this.#signal = signal;
      this.#onAbort = () => this.reject(new AbortedError(what));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Replaces where the waiter is filed (it moved from one queue to another). */
  refile(forget: () => void): void {
    this.#forget = forget;
  }

  resolve(value: T): void {
    if (this.#finish()) this.#resolve(value);
  }

  reject(error: Error): void {
    if (this.#finish()) this.#reject(error);
  }

  /** Rejects with a TimeoutError when the deadline has passed; returns whether it did. */
  expire(now: number): boolean {
    if (this.#settled || now < this.deadline) return false;
    this.reject(new TimeoutError(this.what, this.timeoutMs));
    return true;
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#forget();
    this.#onSettle?.();
    return true;
  }
}

/**
 * Every wait of a node in one place: each tick expires those whose deadline has passed, and a
 * stop rejects them all, whichever part of the node (proposals, reads, leadership) made them.
 */
export class Waiters {
  readonly #all = new Set<Waiter<unknown>>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  get size(): number {
    return this.#all.size;
  }

  /** A new wait; `forget` removes it from wherever its owner filed it, once it settles. */
  create<T>(
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    forget: () => void = () => {},
  ): Waiter<T> {
    let waiter: Waiter<T> | undefined;
    const settled = () => {
      if (waiter !== undefined) this.#all.delete(waiter as Waiter<unknown>);
    };
    waiter = new Waiter<T>(what, this.#now(), timeoutMs, signal, forget, settled);
    // An already aborted signal settled it in the constructor, before it could be filed.
    if (!waiter.settled) this.#all.add(waiter as Waiter<unknown>);
    return waiter;
  }

  /** Fails every wait whose deadline has passed (with a TimeoutError). */
  expire(): void {
    const now = this.#now();
    for (const w of [...this.#all]) w.expire(now);
  }

  /** Fails every wait with `error`. */
  rejectAll(error: Error): void {
    for (const w of [...this.#all]) w.reject(error);
  }
}
