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

  constructor(
    what: string,
    now: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    forget: () => void,
  ) {
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
    return true;
  }
}
