/**
 * @module
 * Where the time of a leader's own write goes, stage by stage, for the latency breakdown in
 * `/metrics` and `bench:trace`. Each proposal is followed by the index of its entry through:
 *
 *   append       proposed → its entry handed to the transport for the followers (in a Ready)
 *   local-fsync  → its entry durable in the leader's own log
 *   quorum       → known committed (a majority durable), seen as the acknowledgement arrives
 *   apply        → applied to the state machine, its proposal settled
 *
 * The stages follow one another, so their sum is the node's part of a write; a stage that a
 * later one overtook (a majority of followers durable before the leader) counts as zero. Only
 * entries this node proposed as leader are followed, at most `MAX_TRACED` at a time, and every
 * mark is a step along an array: a few hundred nanoseconds a write.
 */
export type WriteStage = 'append' | 'local-fsync' | 'quorum' | 'apply';

export const WRITE_STAGES: readonly WriteStage[] = ['append', 'local-fsync', 'quorum', 'apply'];

/** Told of each stage of each traced write, in seconds. */
export type WriteStageObserver = (stage: WriteStage, seconds: number) => void;

interface Traced {
  readonly index: number;
  readonly proposed: number;
  sent: number;
  synced: number;
  committed: number;
}

/** Followed at most at once; beyond it, new proposals go untraced (nothing is applying). */
const MAX_TRACED = 100_000;

export class WriteStages {
  readonly #observe: WriteStageObserver;
  readonly #now: () => number;
  /** Traced entries in index order; those at and after `#head` are not yet applied. */
  #traced: Traced[] = [];
  #head = 0;

  constructor(observe: WriteStageObserver, now: () => number = () => performance.now()) {
    this.#observe = observe;
    this.#now = now;
  }

  get size(): number {
    return this.#traced.length - this.#head;
  }

  proposed(index: number): void {
    const last = this.#traced.at(-1);
    // An index at or below the last traced one: the log was cut and refilled; start over.
    if (last !== undefined && index <= last.index) this.clear();
    if (this.size >= MAX_TRACED) return;
    this.#traced.push({ index, proposed: this.#now(), sent: -1, synced: -1, committed: -1 });
  }

  /** Entries up to `lastIndex` left for the followers. */
  sent(lastIndex: number): void {
    this.#mark('sent', lastIndex);
  }

  /** Entries up to `lastIndex` are durable here. */
  synced(lastIndex: number): void {
    this.#mark('synced', lastIndex);
  }

  committed(commitIndex: number): void {
    this.#mark('committed', commitIndex);
  }

  /** Entries up to `index` applied: each traced one among them reports its stages. */
  applied(index: number): void {
    const now = this.#now();
    while (this.#head < this.#traced.length) {
      const t = this.#traced[this.#head] as Traced;
      if (t.index > index) break;
      this.#head++;
      this.#report(t, now);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#traced.length) {
      this.#traced = this.#traced.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Leadership lost (or the log cut): what is followed may never apply as proposed. */
  clear(): void {
    this.#traced = [];
    this.#head = 0;
  }

  #mark(stage: 'sent' | 'synced' | 'committed', upTo: number): void {
    const now = this.#now();
    // Marks move in index order, so the entries still unmarked form a suffix: walk back to it.
    for (let i = this.#traced.length - 1; i >= this.#head; i--) {
      const t = this.#traced[i] as Traced;
      if (t[stage] >= 0) break;
      if (t.index <= upTo) t[stage] = now;
    }
  }

  #report(t: Traced, applied: number): void {
    // A stage not seen (an entry sent in the Ready that also committed it) takes the time of
    // the next one seen, and each stage starts where the one before it ended.
    const committed = t.committed >= 0 ? t.committed : applied;
    const synced = t.synced >= 0 ? Math.min(t.synced, committed) : committed;
    const sent = t.sent >= 0 ? Math.min(t.sent, synced) : synced;
    this.#observe('append', (sent - t.proposed) / 1000);
    this.#observe('local-fsync', (synced - sent) / 1000);
    this.#observe('quorum', (committed - synced) / 1000);
    this.#observe('apply', (applied - committed) / 1000);
  }
}
