/**
 * A network of cores driven by a list of actions, for property tests: messages are delivered
 * in any order, lost or duplicated; Readies are handled in two steps (take and send what may
 * leave early, then persist) so a crash can land between them or in the middle of a write;
 * nodes restart from what they persisted. After every action the Raft safety properties are
 * checked against everything observed so far.
 */
import {
  beginReady,
  type Entry,
  entrySizeBytes,
  finishReady,
  MemoryStorage,
  type Message,
  type NodeId,
  RawNode,
  type Ready,
  type ReadyHandler,
  seededRandom,
} from '../../src/core/index.js';

export type Action =
  | { kind: 'tick'; node: number }
  | { kind: 'tick-all' }
  | { kind: 'campaign'; node: number }
  | { kind: 'deliver'; pick: number }
  | { kind: 'deliver-some'; picks: readonly number[] }
  | { kind: 'drop'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'ready'; node: number }
  | { kind: 'persist'; node: number }
  | { kind: 'io-all' }
  | { kind: 'propose'; node: number; value: number }
  | { kind: 'read'; node: number }
  | { kind: 'restart'; node: number; keepEntries: number }
  | { kind: 'crash-writing'; pick: number; keepEntries: number }
  | { kind: 'isolate'; node: number }
  /** A snapshot of what the node applied, and its log dropped behind it, keeping `keep`. */
  | { kind: 'compact'; node: number; keep: number }
  | { kind: 'heal' };

export interface NetworkOptions {
  readonly size: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly seed: number;
  /** Election timeout in ticks: short ones make competing candidates common. */
  readonly electionTicks?: number;
  /** Bytes per AppendEntries: small ones split batches, so entries travel separately. */
  readonly maxAppendBytes?: number;
}

interface SimNode {
  readonly id: NodeId;
  raw: RawNode;
  readonly storage: MemoryStorage;
  /** A Ready whose early messages left but whose writes are not done yet. */
  pending: Ready | null;
  /** Highest commit index seen in this incarnation: it must never move back. */
  commitSeen: number;
}

const MAX_QUEUE = 400;
const DEFAULT_APPEND_BYTES = 200;

export class SafetyViolation extends Error {}

export class RandomNetwork {
  readonly nodes: SimNode[] = [];
  queue: Message[] = [];
  readonly #isolated = new Set<NodeId>();
  readonly #options: NetworkOptions;
  /** Term -> the node that was leader in it. */
  readonly #leaders = new Map<number, NodeId>();
  /** Index -> the entry applied there (by anyone), and the lowest term it was committed in. */
  readonly #applied = new Map<number, Entry>();
  readonly #committedIn = new Map<number, number>();
  /** "voter term" -> the candidate it granted its vote to (one per term, across restarts). */
  readonly #votes = new Map<string, NodeId>();
  /** Read context -> the highest commit index anywhere when the read was asked. */
  readonly #reads = new Map<string, number>();
  #readCount = 0;
  #restarts = 0;
  stats = {
    leaders: 0,
    commits: 0,
    reads: 0,
    appends: 0,
    batchedAppends: 0,
    compactions: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
  };

  constructor(options: NetworkOptions) {
    this.#options = options;
    const ids = Array.from({ length: options.size }, (_, i) => `n${i}`);
    for (const id of ids) {
      const storage = new MemoryStorage();
      this.nodes.push({
        id,
        raw: this.#create(id, storage),
        storage,
        pending: null,
        commitSeen: 0,
      });
    }
  }

  #create(id: NodeId, storage: MemoryStorage): RawNode {
    const ids = Array.from({ length: this.#options.size }, (_, i) => `n${i}`);
    return new RawNode({
      id,
      storage,
      membership: { voters: ids },
      random: seededRandom(this.#options.seed * 31 + ids.indexOf(id) + this.#restarts * 7),
      electionTicks: this.#options.electionTicks ?? 8,
      heartbeatTicks: 1,
      preVote: this.#options.preVote,
      checkQuorum: this.#options.checkQuorum,
      maxAppendBytes: this.#options.maxAppendBytes ?? DEFAULT_APPEND_BYTES,
      maxInflightMessages: 4,
    });
  }

  #node(i: number): SimNode {
    return this.nodes[i % this.nodes.length] as SimNode;
  }

  run(actions: readonly Action[]): void {
    for (const action of actions) {
      this.apply(action);
      this.checkSafety();
    }
  }

  apply(a: Action): void {
    switch (a.kind) {
      case 'tick':
        this.#node(a.node).raw.tick();
        return;
      case 'tick-all':
        for (const n of this.nodes) n.raw.tick();
        return;
      case 'campaign': {
        // An election timeout firing now on this node (a leader ignores it).
        const { preVote } = this.#options;
        this.#node(a.node).raw.campaign(preVote ? 'pre-vote' : 'election');
        return;
      }
      case 'deliver':
      case 'drop':
      case 'duplicate': {
        if (this.queue.length === 0) return;
        const i = a.pick % this.queue.length;
        const m = this.queue[i] as Message;
        if (a.kind === 'duplicate') {
          if (this.queue.length < MAX_QUEUE) this.queue.push(m);
          return;
        }
        this.queue.splice(i, 1);
        if (a.kind === 'deliver') this.#deliver(m);
        else this.#lost(m);
        return;
      }
      case 'deliver-some':
        for (const p of a.picks) this.apply({ kind: 'deliver', pick: p });
        return;
      case 'ready':
        this.#takeReady(this.#node(a.node));
        return;
      case 'persist':
        this.#persist(this.#node(a.node));
        return;
      case 'io-all':
        for (const n of this.nodes) this.#io(n);
        return;
      case 'propose': {
        // Sent to any node, forwarded to the leader it knows, as the node layer does.
        const known = this.#node(a.node).raw.status().leader;
        const n = this.nodes.find((x) => x.id === known && !this.#isolated.has(x.id));
        const s = n?.raw.status();
        if (n === undefined || s?.role !== 'leader' || s.transferee !== null) return;
        n.raw.propose([new TextEncoder().encode(`v${a.value}`)]);
        return;
      }
      case 'read': {
        const n = this.#node(a.node);
        const context = `r${this.#readCount++}`;
        const commitNow = Math.max(...this.nodes.map((x) => x.raw.status().commitIndex));
        try {
          n.raw.readIndex(context);
          this.#reads.set(context, commitNow);
        } catch {
          // No leader known: the read fails fast, nothing to check.
        }
        return;
      }
      case 'restart':
        this.#restart(this.#node(a.node), a.keepEntries);
        return;
      case 'crash-writing': {
        // The crashes that matter most land while a write is in progress.
        const writing = this.nodes.filter((n) => n.pending !== null);
        const n = writing[a.pick % Math.max(1, writing.length)];
        if (n !== undefined) this.#restart(n, a.keepEntries);
        return;
      }
      case 'isolate':
        this.#isolated.add(this.#node(a.node).id);
        return;
      case 'heal':
        this.#isolated.clear();
        return;
      case 'compact':
        this.#compact(this.#node(a.node), a.keep);
        return;
    }
  }

  #compact(n: SimNode, keep: number): void {
    const applied = n.raw.status().appliedIndex;
    const current = n.storage.snapshot()?.index ?? 0;
    // Only what is durable here (the snapshot covers applied entries, which are).
    if (applied <= current || applied > n.storage.lastIndex()) return;
    const ids = Array.from({ length: this.#options.size }, (_, i) => `n${i}`);
    const term = n.storage.term(applied) as number;
    n.storage.createSnapshot({ index: applied, term, membership: { voters: ids, learners: [] } });
    n.storage.compact(Math.max(n.storage.firstIndex() - 1, applied - keep));
    this.stats.compactions++;
  }

  #deliver(m: Message): void {
    const target = this.nodes.find((n) => n.id === m.to);
    if (this.#isolated.has(m.from) || this.#isolated.has(m.to) || target === undefined) {
      this.#lost(m);
      return;
    }
    const err = target.raw.step(m);
    // Cores only ever send each other well-formed, meaningful messages.
    if (err !== undefined)
      throw new SafetyViolation(`${m.to} refused ${JSON.stringify(m)}: ${err.message}`);
    // What the node layer does once a snapshot's transfer ends.
    if (m.type === 'install-snapshot') this.#reportSnapshot(m, true);
  }

  /** A message that will never arrive; a snapshot's sender is told, as a node's would be. */
  #lost(m: Message): void {
    if (m.type === 'install-snapshot') this.#reportSnapshot(m, false);
  }

  #reportSnapshot(m: Message, finished: boolean): void {
    this.nodes.find((n) => n.id === m.from)?.raw.reportSnapshot(m.to, finished);
  }

  #send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === 'append' && m.entries.length > 0) this.#checkAppendSize(m.entries);
      if (m.type === 'install-snapshot') this.stats.snapshotsSent++;
      if (m.type === 'vote-response' && m.granted && !m.preVote)
        this.#checkVote(m.from, m.term, m.to);
      if (this.queue.length < MAX_QUEUE) this.queue.push(m);
      else this.#lost(m);
    }
  }

  /** An append holds one entry, or several within `maxAppendBytes` (the core's batching). */
  #checkAppendSize(entries: readonly Entry[]): void {
    this.stats.appends++;
    if (entries.length === 1) return;
    this.stats.batchedAppends++;
    const limit = this.#options.maxAppendBytes ?? DEFAULT_APPEND_BYTES;
    const bytes = entries.reduce((sum, e) => sum + entrySizeBytes(e), 0);
    if (bytes > limit) {
      throw new SafetyViolation(
        `an append of ${entries.length} entries, ${bytes} bytes > ${limit}`,
      );
    }
  }

  #checkVote(voter: NodeId, term: number, candidate: NodeId): void {
    const key = `${voter} ${term}`;
    const earlier = this.#votes.get(key);
    if (earlier === undefined) this.#votes.set(key, candidate);
    else if (earlier !== candidate) {
      throw new SafetyViolation(
        `vote safety: ${voter} voted for ${earlier} and ${candidate} in term ${term}`,
      );
    }
  }

  /** The Ready order, with a crash possible between its early messages and its write. */
  #handler(n: SimNode): ReadyHandler {
    return {
      send: (messages) => this.#send(messages),
      persist: (rd) => {
        if (rd.snapshot !== null) {
          n.storage.installSnapshot(rd.snapshot);
          this.stats.snapshotsInstalled++;
        }
        n.storage.append(rd.entries);
        if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
      },
      apply: (rd) => {
        for (const e of rd.committedEntries) this.#checkApplied(n, e);
        for (const r of rd.readStates) this.#checkRead(n, r.context, r.index);
      },
    };
  }

  #takeReady(n: SimNode): void {
    if (n.pending !== null || !n.raw.hasReady()) return;
    n.pending = beginReady(n.raw, this.#handler(n));
  }

  #persist(n: SimNode): void {
    const rd = n.pending;
    if (rd === null) return;
    const handler = this.#handler(n);
    handler.persist(rd);
    n.pending = null;
    finishReady(n.raw, rd, handler);
  }

  #io(n: SimNode): void {
    for (let i = 0; i < 10 && (n.pending !== null || n.raw.hasReady()); i++) {
      this.#takeReady(n);
      this.#persist(n);
    }
  }

  /**
   * Crash and restart. A write in progress keeps only its first `keepEntries` entries, and its
   * hard state only if every entry made it (storage writes entries before the hard state).
   */
  #restart(n: SimNode, keepEntries: number): void {
    const rd = n.pending;
    if (rd !== null && rd.entries.length > 0) {
      const kept = rd.entries.slice(0, keepEntries % (rd.entries.length + 1));
      n.storage.append(kept);
      if (kept.length === rd.entries.length && rd.hardState !== null) {
        n.storage.setHardState(rd.hardState);
      }
    }
    this.#restarts++;
    n.pending = null;
    n.raw = this.#create(n.id, n.storage);
    n.commitSeen = n.raw.status().commitIndex;
  }

  #checkApplied(n: SimNode, e: Entry): void {
    const seen = this.#applied.get(e.index);
    if (seen === undefined) {
      this.#applied.set(e.index, e);
      this.stats.commits++;
      return;
    }
    if (seen.term !== e.term || Buffer.compare(seen.data, e.data) !== 0) {
      throw new SafetyViolation(
        `state machine safety: ${n.id} applied ${e.index}@${e.term}, another node ${seen.index}@${seen.term}`,
      );
    }
  }

  #checkRead(n: SimNode, context: string, index: number): void {
    const floor = this.#reads.get(context);
    if (floor === undefined) return;
    this.stats.reads++;
    if (index < floor) {
      throw new SafetyViolation(
        `stale read: ${n.id} read ${context} at ${index}, but ${floor} was committed before it was asked`,
      );
    }
  }

  checkSafety(): void {
    for (const n of this.nodes) {
      const s = n.raw.status();
      if (s.commitIndex < n.commitSeen) {
        throw new SafetyViolation(
          `${n.id} commit went back from ${n.commitSeen} to ${s.commitIndex}`,
        );
      }
      n.commitSeen = s.commitIndex;
      if (s.role !== 'leader') continue;
      this.#checkLeader(n, s.term, s.commitIndex);
    }
    this.#checkLogMatching();
  }

  #checkLeader(n: SimNode, term: number, commit: number): void {
    const known = this.#leaders.get(term);
    if (known === undefined) {
      this.#leaders.set(term, n.id);
      this.stats.leaders++;
    } else if (known !== n.id) {
      throw new SafetyViolation(`election safety: ${known} and ${n.id} both lead term ${term}`);
    }
    const log = n.raw.log();
    // What this leader commits is committed in its term (at the latest).
    for (let i = commit; i >= 1 && !this.#committedIn.has(i); i--) this.#committedIn.set(i, term);
    // Leader completeness: it holds every entry committed in an earlier term.
    for (const [index, commitTerm] of this.#committedIn) {
      if (commitTerm >= term) continue;
      // Compacted behind a snapshot, which is only ever taken of applied (committed) entries.
      if (index < log.firstIndex() - 1) continue;
      const applied = this.#applied.get(index);
      const expected = applied?.term ?? this.#termOfCommitted(index);
      if (expected !== undefined && log.term(index) !== expected) {
        throw new SafetyViolation(
          `leader completeness: ${n.id} leads term ${term} with ${index}@${log.term(index)}, ` +
            `but ${index}@${expected} was committed in term ${commitTerm}`,
        );
      }
    }
  }

  /** The term of a committed entry, from the log of any node whose commit index covers it. */
  #termOfCommitted(index: number): number | undefined {
    for (const n of this.nodes) {
      if (n.raw.status().commitIndex >= index) return n.raw.log().term(index);
    }
    return undefined;
  }

  /**
   * If two logs hold an entry with the same index and term, they agree up to it (over the
   * indices both still hold: compaction drops a prefix).
   */
  #checkLogMatching(): void {
    const logs = this.nodes.map((n) => {
      const view = n.raw.log();
      const first = view.firstIndex();
      return {
        id: n.id,
        first,
        entries: view.slice(first, view.lastIndex() + 1, Number.MAX_SAFE_INTEGER),
      };
    });
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a] as (typeof logs)[0];
        const y = logs[b] as (typeof logs)[0];
        const low = Math.max(x.first, y.first);
        const at = (log: typeof x, index: number) => log.entries[index - log.first] as Entry;
        let top = Math.min(x.first + x.entries.length, y.first + y.entries.length) - 1;
        while (top >= low && at(x, top).term !== at(y, top).term) top--;
        for (let i = low; i <= top; i++) {
          const ex = at(x, i);
          const ey = at(y, i);
          if (ex.term !== ey.term || Buffer.compare(ex.data, ey.data) !== 0) {
            throw new SafetyViolation(
              `log matching: ${x.id} and ${y.id} agree at ${top} but differ at ${i}`,
            );
          }
        }
      }
    }
  }

  /**
   * Liveness after the faults: heal, deliver everything, tick. Within `maxRounds` rounds a
   * leader must emerge and, with no new proposal to help, every node must hold and apply the
   * leader's whole log (a follower whose messages were lost must be found and repaired); then
   * a new proposal must reach every node. Returns the rounds it took.
   */
  converge(maxRounds: number): number {
    this.#isolated.clear();
    let proposal: { index: number; term: number } | undefined;
    for (let round = 0; round < maxRounds; round++) {
      this.#settle();
      const leader = this.nodes.find((n) => n.raw.status().role === 'leader');
      const status = leader?.raw.status();
      if (leader !== undefined && status !== undefined && status.transferee === null) {
        const caughtUp = this.nodes.every((n) => n.raw.status().appliedIndex === status.lastIndex);
        // (Re)propose once everyone caught up, and again if leadership moved on meanwhile.
        if (caughtUp && proposal?.term !== status.term) {
          const pos = leader.raw.propose([new TextEncoder().encode('final')]);
          proposal = { index: pos.lastIndex, term: pos.term };
        }
      }
      const target = proposal?.index;
      if (target !== undefined && this.nodes.every((n) => n.raw.status().appliedIndex >= target)) {
        return round;
      }
      for (const n of this.nodes) n.raw.tick();
    }
    throw new SafetyViolation(`no progress within ${maxRounds} rounds after healing`);
  }

  /** Handles every Ready and delivers every message, until quiet (bounded). */
  #settle(): void {
    for (let i = 0; i < 50 && this.#busy(); i++) {
      for (const n of this.nodes) this.#io(n);
      for (const m of this.queue.splice(0)) this.#deliver(m);
      this.checkSafety();
    }
  }

  #busy(): boolean {
    return this.queue.length > 0 || this.nodes.some((n) => n.pending !== null || n.raw.hasReady());
  }
}
