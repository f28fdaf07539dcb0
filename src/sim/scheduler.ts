/**
 * @module
 * Virtual time. Every event of a run (a timer, a message arriving, a disk write completing, a
 * client's next request, a fault) is a callback queued at a virtual time; the scheduler runs
 * them one at a time in (time, insertion) order, and after each one lets every promise the
 * callback set off settle before the next event, so the real `RaftNode`, written with
 * promises, runs on virtual time exactly the same way every time.
 *
 * Events belong to an `Actor` (a node's current life, a client). A crashed life's events are
 * dropped; a paused actor's events wait, with their remaining delay, until it resumes: for the
 * actor, time stood still.
 */

export class Actor {
  readonly name: string;
  #alive = true;
  /** When the current pause began, or null. */
  pausedAt: number | null = null;
  /** Milliseconds this actor spent paused: its clock did not run meanwhile. */
  pausedTotal = 0;
  readonly parked: Scheduled[] = [];

  constructor(name: string) {
    this.name = name;
  }

  get alive(): boolean {
    return this.#alive;
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  /** @internal */
  kill(): void {
    this.#alive = false;
    this.parked.length = 0;
  }
}

interface Scheduled {
  time: number;
  readonly seq: number;
  readonly actor: Actor | null;
  readonly fn: () => void;
}

export interface EventHandle {
  cancel(): void;
}

export class Scheduler {
  #now = 0;
  #seq = 0;
  readonly #heap: Scheduled[] = [];
  /** Events run so far. */
  executed = 0;

  get now(): number {
    return this.#now;
  }

  get pending(): number {
    return this.#heap.length;
  }

  /** Runs `fn` at virtual time `time` (not before now), as `actor`. */
  at(time: number, actor: Actor | null, fn: () => void): EventHandle {
    let cancelled = false;
    const item: Scheduled = {
      time: Math.max(time, this.#now),
      seq: this.#seq++,
      actor,
      fn: () => {
        if (!cancelled) fn();
      },
    };
    this.#push(item);
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  after(ms: number, actor: Actor | null, fn: () => void): EventHandle {
    return this.at(this.#now + ms, actor, fn);
  }

  pause(actor: Actor): void {
    if (actor.paused || !actor.alive) return;
    actor.pausedAt = this.#now;
  }

  /** Resumes `actor`: what came due while it was paused runs now, the rest when due. */
  resume(actor: Actor): void {
    const since = actor.pausedAt;
    if (since === null) return;
    actor.pausedAt = null;
    actor.pausedTotal += this.#now - since;
    for (const item of actor.parked.splice(0)) {
      item.time = this.#now + Math.max(0, item.time - since);
      this.#push(item);
    }
  }

  /** Drops every event of `actor`, now and later. */
  kill(actor: Actor): void {
    actor.kill();
  }

  /**
   * Runs the next event, if any, at or before `until`, then lets what it started settle.
   * False when there was none.
   */
  async step(until: number): Promise<boolean> {
    for (;;) {
      const item = this.#heap[0];
      if (item === undefined || item.time > until) return false;
      this.#pop();
      const actor = item.actor;
      if (actor !== null && !actor.alive) continue;
      if (actor?.pausedAt != null) {
        actor.parked.push(item);
        continue;
      }
      this.#now = item.time;
      this.executed++;
      item.fn();
      // Microtasks all run before the next macrotask: every promise chain the event set off
      // (storage, node loop, clients) advances as far as it can before virtual time moves.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return true;
    }
  }

  /** Moves the clock to `time` when no event is due before it. */
  advanceTo(time: number): void {
    if (time > this.#now) this.#now = time;
  }

  #push(item: Scheduled): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent] as Scheduled)) break;
      heap[i] = heap[parent] as Scheduled;
      i = parent;
    }
    heap[i] = item;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as Scheduled;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && before(heap[right] as Scheduled, heap[left] as Scheduled)
          ? right
          : left;
      if (!before(heap[child] as Scheduled, last)) break;
      heap[i] = heap[child] as Scheduled;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
