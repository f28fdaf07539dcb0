/**
 * @module
 * What must hold at every step of every run, whatever the faults (Raft paper, figure 3):
 *
 * - election safety: at most one leader per term;
 * - one vote per node per term, across restarts (what a vote not persisted breaks);
 * - log matching: two entries with the same index and term hold the same command and follow
 *   the same history. Checked as entries are written: an (index, term) pair always carries
 *   the same bytes and the same previous term, which by induction makes the logs agree on
 *   every earlier entry;
 * - leader completeness: a new leader's log holds every entry applied anywhere;
 * - state machine safety: no two nodes apply different commands at one index;
 * - commit never moves back on a node, across clean restarts (a power loss may lose an
 *   unsynced commit index, which Raft allows).
 */
import type { Entry, LogStorage, NodeId } from '../core/index.js';
import type { WireMessage } from '../transport/index.js';

export class InvariantViolation extends Error {
  readonly invariant: string;

  constructor(invariant: string, message: string) {
    super(`${invariant}: ${message}`);
    this.name = 'InvariantViolation';
    this.invariant = invariant;
  }
}

interface Written {
  readonly hash: number;
  readonly prevTerm: number;
  readonly by: NodeId;
}

interface Applied {
  readonly term: number;
  readonly hash: number;
  readonly by: NodeId;
}

export class Invariants {
  readonly #leaders = new Map<number, NodeId>();
  readonly #votes = new Map<string, NodeId>();
  readonly #written = new Map<string, Written>();
  readonly #applied = new Map<number, Applied>();
  /** The first violation seen; the run stops at it. */
  violation: InvariantViolation | null = null;

  get leadersElected(): number {
    return this.#leaders.size;
  }

  get appliedEntries(): number {
    return this.#applied.size;
  }

  #fail(invariant: string, message: string): void {
    this.violation ??= new InvariantViolation(invariant, message);
  }

  /** `id` became leader of `term`, with `log` as its log. */
  leaderElected(id: NodeId, term: number, log: LogStorage): void {
    const other = this.#leaders.get(term);
    if (other !== undefined && other !== id) {
      this.#fail('election safety', `${other} and ${id} both lead term ${term}`);
      return;
    }
    this.#leaders.set(term, id);
    for (const [index, a] of this.#applied) {
      const t = log.term(index);
      if (t !== a.term) {
        this.#fail(
          'leader completeness',
          `${id} leads term ${term} without entry ${index} (term ${a.term}, applied by ${a.by}); ` +
            `its log has ${t === undefined ? 'nothing' : `term ${t}`} there`,
        );
        return;
      }
    }
  }

  /** A message left a node: a granted vote is a promise for the whole term. */
  sent(m: WireMessage): void {
    if (m.type !== 'vote-response' || !m.granted || m.preVote) return;
    const key = `${m.from}\u0000${m.term}`;
    const before = this.#votes.get(key);
    if (before !== undefined && before !== m.to) {
      this.#fail(
        'one vote per term',
        `${m.from} voted for ${before} and for ${m.to} in term ${m.term}`,
      );
      return;
    }
    this.#votes.set(key, m.to);
  }

  /** `id` writes `entries` to its log, following an entry of term `prevTerm`. */
  written(id: NodeId, entries: readonly Entry[], prevTerm: number): void {
    let prev = prevTerm;
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const hash = entryHash(e);
      const before = this.#written.get(key);
      if (before === undefined) this.#written.set(key, { hash, prevTerm: prev, by: id });
      else if (before.hash !== hash || before.prevTerm !== prev) {
        const what = before.hash !== hash ? 'different commands' : 'different histories';
        this.#fail(
          'log matching',
          `${before.by} and ${id} hold ${what} at index ${e.index}, term ${e.term}` +
            ` (previous terms ${before.prevTerm} and ${prev})`,
        );
        return;
      }
      prev = e.term;
    }
  }

  /** `id` applied the entry at `index`, of `term`. */
  applied(id: NodeId, index: number, term: number, data: Uint8Array): void {
    const hash = bytesHash(data);
    const before = this.#applied.get(index);
    if (before === undefined) this.#applied.set(index, { term, hash, by: id });
    else if (before.term !== term || before.hash !== hash) {
      this.#fail(
        'state machine safety',
        `${before.by} applied term ${before.term}'s command at index ${index}, ${id} term ${term}'s` +
          (before.term === term ? ' (a different command)' : ''),
      );
    }
  }

  /** A node's commit index went from `floor` to `commit`. */
  commitMoved(id: NodeId, floor: number, commit: number): void {
    if (commit < floor)
      this.#fail('commit monotonic', `${id}'s commit went back from ${floor} to ${commit}`);
  }
}

function entryHash(e: Entry): number {
  let h = bytesHash(e.data);
  for (let i = 0; i < e.kind.length; i++) h = Math.imul(h ^ e.kind.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** FNV-1a over the bytes, and their length. */
function bytesHash(data: Uint8Array): number {
  let h = 0x811c9dc5 ^ data.byteLength;
  for (let i = 0; i < data.byteLength; i++) h = Math.imul(h ^ (data[i] as number), 0x01000193);
  return h >>> 0;
}
