/**
 * @module
 * Who leads, as this node's Readies tell it, and the waits for a leader: `waitUntilLeader`,
 * and running a proposal or read once a leader is known (an election makes a caller wait,
 * not fail).
 */
import { type NodeId, NotLeaderError, type Role, type SoftState } from '../core/index.js';
import type { Waiter, Waiters } from './waiter.js';

export interface LeaderWait {
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface SoftStateChange {
  readonly roleChanged: boolean;
  readonly leaderChanged: boolean;
}

export class Leadership {
  /** As of the last Ready handled: the core may already know better (see `run`). */
  role: Role = 'follower';
  leader: NodeId | null = null;
  term: number;
  readonly #waiters: Waiters;
  readonly #now: () => number;
  /** Waits for a leader (any, or the one named). */
  readonly #forLeader = new Map<Waiter<NodeId>, NodeId | undefined>();
  /** Waits for the next soft state with a leader, whether or not the leader changed. */
  readonly #forNext = new Set<Waiter<NodeId>>();

  constructor(waiters: Waiters, now: () => number, term: number) {
    this.#waiters = waiters;
    this.#now = now;
    this.term = term;
  }

  /** Resolves once a leader is known (once `id` leads, if given); no limit without a timeout. */
  waitUntilLeader(id: NodeId | undefined, options: LeaderWait = {}): Promise<NodeId> {
    const what = id === undefined ? 'waiting for a leader' : `waiting for ${id} to lead`;
    // Without a timeout it waits as long as it takes, as raftos's wait_until_leader does.
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const waiter = this.#waiters.create<NodeId>(what, timeoutMs, options.signal, () =>
      this.#forLeader.delete(waiter),
    );
    if (this.leader !== null && (id === undefined || id === this.leader)) {
      waiter.resolve(this.leader);
    } else if (!waiter.settled) {
      this.#forLeader.set(waiter, id);
    }
    return waiter.promise;
  }

  /**
   * Runs `attempt` once a leader is known, within `timeoutMs`. A NotLeaderError with no leader
   * means nothing was proposed (or read) anywhere, so it is safe to wait for the next leader
   * and try again.
   */
  async run<T>(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    wait: boolean,
    attempt: (remainingMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = this.#now() + timeoutMs;
    for (;;) {
      const remaining = Math.max(1, deadline - this.#now());
      if (wait && this.leader === null) {
        await this.waitUntilLeader(undefined, { timeoutMs: remaining, signal });
        continue;
      }
      try {
        return await attempt(remaining);
      } catch (e) {
        const retry = wait && e instanceof NotLeaderError && e.leader === null;
        if (!retry || this.#now() >= deadline) throw e;
        // The core knows no leader, though this node may not have handled the Ready that says
        // so (its loop can be waiting for a save). Retrying at once would spin in microtasks,
        // and the event loop, with the save, would never turn: wait for the next leader.
        await this.#nextLeader(Math.max(1, deadline - this.#now()), signal);
      }
    }
  }

  /** Takes the soft state of a Ready: settles the waits it answers, says what changed. */
  observe(soft: SoftState): SoftStateChange {
    const change = {
      roleChanged: soft.role !== this.role,
      leaderChanged: soft.leader !== this.leader,
    };
    this.role = soft.role;
    this.leader = soft.leader;
    this.term = soft.term;
    if (soft.leader !== null) {
      for (const waiter of [...this.#forNext]) waiter.resolve(soft.leader);
      if (change.leaderChanged) {
        for (const [waiter, id] of [...this.#forLeader]) {
          if (id === undefined || id === soft.leader) waiter.resolve(soft.leader);
        }
      }
    }
    return change;
  }

  /** Resolves when the next soft state this node handles names a leader. */
  #nextLeader(timeoutMs: number, signal: AbortSignal | undefined): Promise<NodeId> {
    const waiter = this.#waiters.create<NodeId>('waiting for a leader', timeoutMs, signal, () =>
      this.#forNext.delete(waiter),
    );
    if (!waiter.settled) this.#forNext.add(waiter);
    return waiter.promise;
  }
}
