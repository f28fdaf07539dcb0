/**
 * @module
 * Linearizable reads (ReadIndex, thesis §6.4): each asks the core for a read index under a
 * context of its own, and is served once the state machine has applied up to that index.
 * The context carries the node's incarnation, so a late answer to a previous life's read can
 * never serve a read of this one.
 */
import {
  type AssertionError,
  NotLeaderError,
  type RawNode,
  type ReadState,
} from '../core/index.js';
import type { Waiter, Waiters } from './waiter.js';

export interface ReadsContext {
  readonly raw: RawNode;
  readonly waiters: Waiters;
  readonly incarnation: number;
  schedule(): void;
  checkRunning(): void;
  notLeader(): NotLeaderError;
  brokenInvariant(e: unknown): AssertionError | undefined;
}

export class Reads {
  readonly #ctx: ReadsContext;
  /** Reads waiting for their read index, by context. */
  readonly #forIndex = new Map<string, Waiter<number>>();
  /** Reads that have their index and wait for the state machine to reach it. */
  readonly #forApply = new Map<Waiter<number>, number>();
  #next = 0;

  constructor(context: ReadsContext) {
    this.#ctx = context;
  }

  /** Resolves with the applied index once it covers a read index taken now. */
  readIndex(timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
    const { raw, waiters } = this.#ctx;
    const context = `${this.#ctx.incarnation.toString(36)}.${(++this.#next).toString(36)}`;
    const waiter = waiters.create<number>('linearizable read', timeoutMs, signal, () =>
      this.#forIndex.delete(context),
    );
    if (waiter.settled) return waiter.promise;
    try {
      this.#ctx.checkRunning();
      raw.readIndex(context);
      this.#forIndex.set(context, waiter);
      this.#ctx.schedule();
    } catch (e) {
      const broken = this.#ctx.brokenInvariant(e);
      waiter.reject(broken ?? (e instanceof NotLeaderError ? this.#ctx.notLeader() : (e as Error)));
    }
    return waiter.promise;
  }

  /** A Ready's read states and dropped reads, with the index applied after its entries. */
  answered(
    states: readonly ReadState[],
    dropped: readonly string[],
    applied: number,
    term: number,
  ): void {
    for (const { context, index } of states) {
      const waiter = this.#forIndex.get(context);
      if (waiter === undefined) continue;
      this.#forIndex.delete(context);
      if (index <= applied) {
        waiter.resolve(applied);
        continue;
      }
      waiter.refile(() => this.#forApply.delete(waiter));
      this.#forApply.set(waiter, index);
    }
    // Leadership changed under the read: no read index will come. It was a read, so it is safe
    // to ask again (`Leadership.run` does, once a leader is known).
    for (const context of dropped) {
      this.#forIndex.get(context)?.reject(new NotLeaderError(null, term));
    }
  }

  /** The state machine reached `applied`: the reads waiting for it are served. */
  release(applied: number): void {
    for (const [waiter, index] of [...this.#forApply]) {
      if (index <= applied) waiter.resolve(applied);
    }
  }
}
