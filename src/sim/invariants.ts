/**
 * @module
 * What must hold at every step of every run, whatever the faults (Raft paper, figure 3):
 *
 * - election safety: at most one leader per term;
 * - one vote per node per term, across restarts (what a vote not persisted breaks), counting
 *   the vote a candidate casts for itself;
 * - entries a follower acknowledged stay in its log while its term lasts: the leader counted
 *   them towards a commit, so cutting them would let a committed entry fall below a quorum;
 * - log matching: two entries with the same index and term hold the same command and follow
 *   the same history. Checked as entries are written: an (index, term) pair always carries
 *   the same bytes and the same previous term, which by induction makes the logs agree on
 *   every earlier entry;
 * - leader completeness: a new leader's log holds every entry committed in an earlier term.
 *   An entry's commit term is not observed, but it is at most the term of any node that
 *   applies it (that node heard of the commit from a leader of that term or an earlier one),
 *   so each applied entry is required of leaders from the lowest such term on. A leader of an
 *   older term may win late (its votes delayed) and rightly lack it;
 * - committed entries are safe: no node that lacks the latest applied entry has a log as up
 *   to date as a majority's (it could win an election and overwrite the entry). This is what
 *   the leader's commit rule buys, and it breaks the moment a leader commits wrongly, long
 *   before a later election turns it into lost data;
 * - state machine safety: no two nodes apply different commands at one index;
 * - commit never moves back on a node while it runs. (A restart may: the commit index is
 *   recorded behind the apply, and a power loss may lose it, which Raft allows.)
 * - no command skipped: a node's state machine gets every command from its last one (or the
 *   snapshot it restored) on; one it passes over, which another node applied, is lost there;
 * - configurations applied in log order, and agreed: within a life, a node applies
 *   configuration entries at increasing indexes, and every node applies the same
 *   configuration at an index;
 *
 * And of snapshots (the leader completeness and safety checks count a snapshot as holding
 * every entry up to its index):
 *
 * - a snapshot is of committed entries: its index is within the node's commit index, and the
 *   entry there is the one applied there;
 * - compaction only behind a durable snapshot: a node never drops entries from its log that
 *   no snapshot it has made durable covers (power lost then would leave a gap);
 * - snapshot agreement: all snapshots at one index have one term and hold one state (by the
 *   workload's digest of the state as it was frozen, and as it is restored);
 * - a restored state is one a node snapshotted;
 * - installing the leader's snapshot keeps what the follower acknowledged in this term, and the
 *   entries after it continue the snapshot's history.
 */
import type { Entry, LogStorage, NodeId, SnapshotMeta } from '../core/index.js';
import type { WireMessage } from '../transport/index.js';

/** What the invariants need to know of a node's log. */
export interface LogView {
  readonly id: NodeId;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** The index of the snapshot the log starts after; 0 for none. */
  readonly snapshotIndex: number;
  term(index: number): number | undefined;
  /** The voters of the configuration in force on the node (its last one, committed or not). */
  readonly voters: ReadonlySet<NodeId>;
  /** The old voters, while that configuration is joint; else empty. */
  readonly outgoing: ReadonlySet<NodeId>;
}

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
  /** The lowest term in which a node applied it: it was committed in that term or before. */
  knownIn: number;
}

interface SnapshotSeen {
  readonly term: number;
  /** The state's digest, once a node that took or restored it has given one. */
  digest: string | null;
  readonly by: NodeId;
}

export class Invariants {
  readonly #leaders = new Map<number, NodeId>();
  readonly #votes = new Map<string, NodeId>();
  readonly #written = new Map<string, Written>();
  readonly #applied = new Map<number, Applied>();
  #lastApplied = 0;
  /** Per node, the highest index it acknowledged to a leader, and the term it did so in. */
  /** The highest log each disk acknowledged, by `incarnation` (a node's current disk). */
  readonly #acked = new Map<string, { term: number; index: number }>();
  /** Per index, the configuration applied there (as JSON) and by whom. */
  readonly #configs = new Map<number, { readonly text: string; readonly by: NodeId }>();
  /** Per index, the snapshots nodes wrote or restored there. */
  readonly #snapshots = new Map<number, SnapshotSeen>();
  /** The first violation seen; the run stops at it. */
  violation: InvariantViolation | null = null;

  get leadersElected(): number {
    return this.#leaders.size;
  }

  get appliedEntries(): number {
    return this.#applied.size;
  }

  /** Snapshot indices written anywhere. */
  get snapshotsSeen(): number {
    return this.#snapshots.size;
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
    const snapshot = log.snapshot();
    for (const [index, a] of this.#applied) {
      if (a.knownIn > term) continue;
      // The snapshot holds every entry up to its index (snapshot agreement checks it).
      if (snapshot !== null && index < snapshot.index) continue;
      const t = index === snapshot?.index ? snapshot.term : log.term(index);
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

  /**
   * A message left a node. A granted vote, or a candidate's request (it voted for itself), is
   * a promise for the whole term; a successful append response is a promise to keep entries.
   */
  /**
   * Names a node's voting self: a node whose disk was replaced by an empty one votes anew
   * (its old votes went with the disk). Default: the id.
   */
  incarnation: (id: NodeId) => string = (id) => id;

  sent(m: WireMessage): void {
    if (m.type === 'append-response' && m.success) {
      // By disk, as votes are: a node wiped and added again promised nothing on its new disk.
      const disk = this.incarnation(m.from);
      const acked = this.#acked.get(disk);
      if (
        acked === undefined ||
        acked.term < m.term ||
        (acked.term === m.term && acked.index < m.index)
      ) {
        this.#acked.set(disk, { term: m.term, index: m.index });
      }
      return;
    }
    let votedFor: NodeId;
    if (m.type === 'vote-response' && m.granted && !m.preVote) votedFor = m.to;
    else if (m.type === 'vote' && !m.preVote) votedFor = m.from;
    else return;
    const key = `${this.incarnation(m.from)}\u0000${m.term}`;
    const before = this.#votes.get(key);
    if (before !== undefined && before !== votedFor) {
      this.#fail(
        'one vote per term',
        `${m.from} voted for ${before} and for ${votedFor} in term ${m.term}`,
      );
      return;
    }
    this.#votes.set(key, votedFor);
  }

  /** `id`, in `term`, writes `entries` to its log (cutting what followed), after an entry of term `prevTerm`. */
  written(id: NodeId, term: number, entries: readonly Entry[], prevTerm: number): void {
    const last = entries[entries.length - 1];
    if (last !== undefined && !this.#keeps(id, term, last.index)) return;
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

  /** Whether `id`'s log, now ending at `lastIndex` in `term`, keeps what it acknowledged. */
  #keeps(id: NodeId, term: number, lastIndex: number): boolean {
    const acked = this.#acked.get(this.incarnation(id));
    if (acked === undefined || acked.term !== term || lastIndex >= acked.index) return true;
    this.#fail(
      'acknowledged entries kept',
      `${id} acknowledged its log up to ${acked.index} in term ${term}, then cut it back to ${lastIndex}`,
    );
    return false;
  }

  /**
   * `id`, in term `nodeTerm`, applied the entry at `index`, of `term`; its state machine's
   * previous command (or the snapshot it restored) was at `after`.
   */
  applied(
    id: NodeId,
    index: number,
    term: number,
    data: Uint8Array,
    nodeTerm: number,
    after: number,
  ): void {
    for (let skipped = after + 1; skipped < index; skipped++) {
      const a = this.#applied.get(skipped);
      if (a === undefined) continue;
      this.#fail(
        'no command skipped',
        `${id} applied entry ${index} after ${after}, passing over the command at ${skipped} (term ${a.term}, applied by ${a.by})`,
      );
      return;
    }
    const hash = bytesHash(data);
    const before = this.#applied.get(index);
    if (before === undefined) {
      this.#applied.set(index, { term, hash, by: id, knownIn: nodeTerm });
      if (index > this.#lastApplied) this.#lastApplied = index;
    } else if (before.term !== term || before.hash !== hash) {
      this.#fail(
        'state machine safety',
        `${before.by} applied term ${before.term}'s command at index ${index}, ${id} term ${term}'s` +
          (before.term === term ? ' (a different command)' : ''),
      );
    } else before.knownIn = Math.min(before.knownIn, nodeTerm);
  }

  /**
   * Whether a node lacking the latest applied entry could be elected: whether the running nodes
   * whose logs are no more up to date than its own make a majority of the configuration in
   * force on it (both halves, when joint). A node that is no voter there cannot stand.
   */
  checkElectable(logs: readonly LogView[]): void {
    const index = this.#lastApplied;
    const entry = this.#applied.get(index);
    if (entry === undefined) return;
    for (const x of logs) {
      if (index < x.snapshotIndex || x.term(index) === entry.term) continue;
      if (!x.voters.has(x.id) && !x.outgoing.has(x.id)) continue;
      const voters = logs.filter(
        (y) =>
          (x.lastTerm > y.lastTerm || (x.lastTerm === y.lastTerm && x.lastIndex >= y.lastIndex)) &&
          wouldVote(y),
      );
      const ids = new Set(voters.map((y) => y.id));
      const majority = (set: ReadonlySet<NodeId>): boolean =>
        set.size === 0 || [...set].filter((id) => ids.has(id)).length > set.size / 2;
      if (majority(x.voters) && majority(x.outgoing)) {
        this.#fail(
          'committed entries safe',
          `${x.id} lacks entry ${index} (term ${entry.term}, applied by ${entry.by}), yet its log ` +
            `(last entry ${x.lastIndex}, term ${x.lastTerm}) is as up to date as those of ` +
            `${voters.map((y) => y.id).join(', ')}: it could be elected and overwrite the entry`,
        );
        return;
      }
    }
  }

  /**
   * `id` takes a snapshot at `meta` of the state whose digest is `digest` (null: the workload
   * gives none), its commit index being `commit`.
   */
  snapshotTaken(id: NodeId, meta: SnapshotMeta, digest: string | null, commit: number): void {
    if (meta.index > commit) {
      this.#fail(
        'snapshot of committed entries',
        `${id} takes a snapshot at ${meta.index} with its commit index at ${commit}`,
      );
      return;
    }
    const applied = this.#applied.get(meta.index);
    if (applied !== undefined && applied.term !== meta.term) {
      this.#fail(
        'snapshot of committed entries',
        `${id} takes a snapshot at ${meta.index} of term ${meta.term}; the entry applied there is of term ${applied.term} (by ${applied.by})`,
      );
      return;
    }
    this.#seeSnapshot(id, meta, digest, 'takes');
  }

  /** `id` receives its leader's snapshot at `meta`. */
  snapshotReceived(id: NodeId, meta: SnapshotMeta): void {
    this.#seeSnapshot(id, meta, null, 'receives');
  }

  /** `id` compacts its log up to `upTo`, its newest durable snapshot being at `durable`. */
  compacted(id: NodeId, upTo: number, durable: number): void {
    if (upTo > durable) {
      this.#fail(
        'compaction behind a durable snapshot',
        `${id} compacts its log up to ${upTo}, and its newest durable snapshot is at ${durable}`,
      );
    }
  }

  /** `id` restored its state machine from its snapshot at `meta`; the state's digest. */
  snapshotRestored(id: NodeId, meta: SnapshotMeta, digest: string | null): void {
    if (!this.#snapshots.has(meta.index)) {
      this.#fail(
        'restored state snapshotted',
        `${id} restored a snapshot at ${meta.index} that no node wrote`,
      );
      return;
    }
    this.#seeSnapshot(id, meta, digest, 'restores');
  }

  #seeSnapshot(id: NodeId, meta: SnapshotMeta, digest: string | null, verb: string): void {
    const before = this.#snapshots.get(meta.index);
    if (before === undefined) {
      this.#snapshots.set(meta.index, { term: meta.term, digest, by: id });
      return;
    }
    if (before.term !== meta.term) {
      this.#fail(
        'snapshot agreement',
        `${id} ${verb} a snapshot at ${meta.index} of term ${meta.term}; ${before.by}'s there is of term ${before.term}`,
      );
    } else if (digest !== null && before.digest !== null && digest !== before.digest) {
      this.#fail(
        'snapshot agreement',
        `${id} ${verb} a state at ${meta.index} unlike the one ${before.by} snapshotted there`,
      );
    } else if (before.digest === null) before.digest = digest;
  }

  /** `id`, in `term`, replaced its log with the leader's snapshot `meta` and `entries` after it. */
  installed(id: NodeId, term: number, meta: SnapshotMeta, entries: readonly Entry[]): void {
    if (entries.length > 0) this.written(id, term, entries, meta.term);
    else this.#keeps(id, term, meta.index);
  }

  /**
   * `id` applied the configuration `text` (its spec as JSON) at `index`; the last one it
   * applied in this life was at `previous` (0: none yet).
   */
  configurationApplied(id: NodeId, index: number, text: string, previous: number): void {
    if (index <= previous) {
      this.#fail(
        'configurations in log order',
        `${id} applied the configuration at ${index} after the one at ${previous}`,
      );
      return;
    }
    const before = this.#configs.get(index);
    if (before === undefined) this.#configs.set(index, { text, by: id });
    else if (before.text !== text) {
      this.#fail(
        'configurations agree',
        `${before.by} applied ${before.text} at ${index}, ${id} applied ${text}`,
      );
    }
  }

  /** A node's commit index went from `floor` to `commit`. */
  commitMoved(id: NodeId, floor: number, commit: number): void {
    if (commit < floor)
      this.#fail('commit monotonic', `${id}'s commit went back from ${floor} to ${commit}`);
  }
}

/**
 * Whether `y` gives its vote at all, logs aside (the core's `#mayVote`): once it knows a
 * configuration, to any candidate whose log is up to date.
 */
function wouldVote(y: LogView): boolean {
  return y.voters.size > 0;
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
