/**
 * @module
 * Linearizable reads (ReadIndex, thesis §6.4): each asks the core for a read index under a
 * context of its own, and is served once the state machine has applied up to that index.
 * The context carries the node's incarnation, so a late answer to a previous life's read can
 * never serve a read of this one.
 *
 * Lease reads (`readMode: 'lease'`, thesis §6.4.1). A read round that a quorum answered was
 * sent after its read was asked, at time t on this leader's clock. Every voter that answered
 * heard from this leader at or after t, and with check-quorum it ignores votes (and does not
 * campaign) until its election timeout has run since: at least (electionTicks - 1) ticks,
 * which its timer can delay but never hasten. Any quorum that could elect another leader
 * holds one of them, so none can exist before t + (electionTicks - 1) ticks of that voter's
 * clock. The leader serves reads at its commit index without a round until
 *
 *   t + (electionTicks - 2) * tickMs * (1 - MAX_CLOCK_DRIFT)
 *
 * on its own clock: one tick less for the tick the lease may start in, and a fifth less for
 * clocks that run at different rates. The bound this assumes: no voter's clock runs more than
 * 25 % faster than the leader's (monotonic clocks drift by parts per million). A suspended
 * machine's monotonic clock stops, so the wall clock (`Clock.wallNow`) must agree too: it
 * counts the suspension, and one stepped back ends the lease until the next round (the soak's
 * seed 437770835 found a paused leader serving a stale read without it). A leader that hands over
 * leadership gives up its lease at once (its transferee may campaign through the others'
 * leases), and a new term or role ends it. Reads under a lease ask for a new round in the
 * background once half the lease is gone, so a steady flow of reads never waits for one.
 */
import {
  type AssertionError,
  NotLeaderError,
  type RawNode,
  type ReadState,
} from '../core/index.js';
import type { Clock } from './clock.js';
import type { Waiter, Waiters } from './waiter.js';

/** The share of a lease given up for clock drift (see the module comment). */
export const MAX_CLOCK_DRIFT = 0.2;

/** How long a lease lasts after the read round that earned it was asked, in ms (0: none). */
export function leaseDurationMs(electionTicks: number, tickMs: number): number {
  return Math.max(0, (electionTicks - 2) * tickMs * (1 - MAX_CLOCK_DRIFT));
}

export interface ReadsContext {
  readonly raw: RawNode;
  /** Lease reads: how long a lease lasts; null for ReadIndex only. */
  readonly leaseMs: number | null;
  /** Its `now` times the lease; its `wallNow`, if any, must agree. */
  readonly clock: Clock;
  /** The index the state machine has applied. */
  applied(): number;
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
  /** Rounds asked as leader, by context: when and in which term (what a lease starts from). */
  readonly #asked = new Map<
    string,
    { readonly at: number; readonly wallAt: number | null; readonly term: number }
  >();
  /**
   * The lease this leader holds: until when on the monotonic clock, and from and until when on
   * the wall clock (null without one), in which term; null when none.
   */
  #lease: { until: number; wall: { from: number; until: number } | null; term: number } | null =
    null;
  /** A background round to renew the lease is under way. */
  #renewing: string | null = null;
  #next = 0;
  /** Reads served under a lease, and by a round (for the status and the tests). */
  leaseReads = 0;
  roundReads = 0;

  constructor(context: ReadsContext) {
    this.#ctx = context;
  }

  /** Resolves with the applied index once it covers a read index taken now. */
  readIndex(timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
    const { waiters } = this.#ctx;
    if (this.#leaseHolds()) return this.#underLease(timeoutMs, signal);
    const context = this.#context();
    const waiter = waiters.create<number>('linearizable read', timeoutMs, signal, () => {
      this.#forIndex.delete(context);
      this.#asked.delete(context);
    });
    if (waiter.settled) return waiter.promise;
    try {
      this.#ctx.checkRunning();
      this.#ask(context);
      this.#forIndex.set(context, waiter);
      this.roundReads++;
      this.#ctx.schedule();
    } catch (e) {
      const broken = this.#ctx.brokenInvariant(e);
      waiter.reject(broken ?? (e instanceof NotLeaderError ? this.#ctx.notLeader() : (e as Error)));
    }
    return waiter.promise;
  }

  #context(): string {
    return `${this.#ctx.incarnation.toString(36)}.${(++this.#next).toString(36)}`;
  }

  /** Asks the core for a read round under `context`, noting when if this node leads. */
  #ask(context: string): void {
    const { raw } = this.#ctx;
    raw.readIndex(context);
    if (this.#ctx.leaseMs !== null && raw.role === 'leader') {
      const wallAt = this.#ctx.clock.wallNow?.() ?? null;
      this.#asked.set(context, { at: this.#ctx.clock.now(), wallAt, term: raw.term });
    }
  }

  #leaseHolds(): boolean {
    const lease = this.#lease;
    const { raw } = this.#ctx;
    if (lease === null || lease.term !== raw.term || raw.role !== 'leader' || raw.transferring) {
      return false;
    }
    if (this.#ctx.clock.now() >= lease.until) return false;
    // A machine suspended (or a clock stepped back) stops or turns the monotonic clock's count;
    // the wall clock counts the suspension. Both must agree the lease still holds.
    const wall = lease.wall;
    if (wall === null) return true;
    const wallNow = this.#ctx.clock.wallNow?.() ?? wall.from;
    return wallNow >= wall.from && wallNow < wall.until;
  }

  /** A read this leader serves at its commit index, its lease vouching that it still leads. */
  #underLease(timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
    const { raw, waiters } = this.#ctx;
    this.leaseReads++;
    const index = raw.commitIndex;
    const lease = this.#lease as { until: number; term: number };
    const leaseMs = this.#ctx.leaseMs as number;
    if (this.#renewing === null && lease.until - this.#ctx.clock.now() < leaseMs / 2) this.#renew();
    const applied = this.#ctx.applied();
    // The common case: the state machine has applied all that is committed.
    if (index <= applied) return Promise.resolve(applied);
    const waiter = waiters.create<number>('linearizable read', timeoutMs, signal, () =>
      this.#forApply.delete(waiter),
    );
    if (!waiter.settled) this.#forApply.set(waiter, index);
    return waiter.promise;
  }

  /** A round with no read of its own: its answer extends the lease. */
  #renew(): void {
    const context = this.#context();
    try {
      this.#ask(context);
      this.#renewing = context;
      this.#ctx.schedule();
    } catch {
      // Too many reads pending, or no longer leader: the next read goes through a round.
    }
  }

  /** A Ready's read states and dropped reads, with the index applied after its entries. */
  answered(
    states: readonly ReadState[],
    dropped: readonly string[],
    applied: number,
    term: number,
  ): void {
    for (const { context, index } of states) {
      this.#extendLease(context);
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
      this.#asked.delete(context);
      if (this.#renewing === context) this.#renewing = null;
      this.#forIndex.get(context)?.reject(new NotLeaderError(null, term));
    }
  }

  /** A quorum answered the round asked under `context`: the lease runs from when it was asked. */
  #extendLease(context: string): void {
    if (this.#renewing === context) this.#renewing = null;
    const asked = this.#asked.get(context);
    if (asked === undefined) return;
    this.#asked.delete(context);
    if (asked.term !== this.#ctx.raw.term) return;
    const leaseMs = this.#ctx.leaseMs as number;
    const until = asked.at + leaseMs;
    const wall =
      asked.wallAt === null ? null : { from: asked.wallAt, until: asked.wallAt + leaseMs };
    const lease = this.#lease;
    if (lease === null || lease.term !== asked.term) {
      this.#lease = { until, wall, term: asked.term };
    } else if (until > lease.until) {
      lease.until = until;
      lease.wall = wall;
    }
  }

  /** The state machine reached `applied`: the reads waiting for it are served. */
  release(applied: number): void {
    for (const [waiter, index] of [...this.#forApply]) {
      if (index <= applied) waiter.resolve(applied);
    }
  }
}
