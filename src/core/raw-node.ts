/**
 * @module
 * The synchronous public face of the core. Drive it with `tick()`, `step()`, `propose()`,
 * `readIndex()` and `transferLeader()`; whenever `hasReady()`, take a `ready()`, carry it out
 * in the order its fields document, then call `advance()`.
 *
 * Writes may overlap (thesis §10.2.1, etcd's asynchronous storage writes): once a Ready's
 * messages are sent and its write has begun, `accept()` lets the next `ready()` be taken
 * before the write is durable; each accepted Ready is then finished (messages after persist,
 * apply) and `advance()`d in the order taken, the writes completing in that order too. The
 * next Ready holds only what the accepted ones did not: new entries (or replacements of
 * entries under way), committed entries not yet handed out. A Ready with a snapshot must be
 * finished before the next one is taken.
 *
 * @example
 * ```ts
 * const node = new RawNode({ id: 'a', storage, membership: { voters: ['a', 'b', 'c'] }, random });
 * node.tick();
 * if (node.hasReady()) {
 *   const rd = node.ready();
 *   send(rd.messages);                          // may leave before the disk write
 *   await persist(rd.hardState, rd.entries);    // fsync if rd.mustSync
 *   send(rd.messagesAfterPersist);              // only now
 *   apply(rd.committedEntries);
 *   node.advance();
 * }
 * ```
 */
import { assert } from './assert.js';
import type { MemberChange } from './config-change.js';
import type { InvalidMessageError } from './errors.js';
import type { LogView } from './log.js';
import type { Membership } from './membership.js';
import type { Message } from './messages.js';
import type { RaftOptions } from './options.js';
import type { ProgressState } from './progress.js';
import { type CampaignKind, type ProposalPosition, Raft } from './raft.js';
import type { SnapshotMeta } from './snapshot.js';
import {
  type Entry,
  entrySizeBytes,
  type HardState,
  hardStateEqual,
  type NodeId,
  type ReadState,
  type Role,
  type SoftState,
} from './types.js';

/** Everything the layer above must do, in this order, before calling `advance()`. */
export interface Ready {
  /** Role, leader or term changed since the last Ready; null otherwise. Drives callbacks. */
  readonly softState: SoftState | null;
  /**
   * Messages that may be sent at once, concurrently with the disk write below: the leader's
   * AppendEntries and heartbeats (thesis §10.2.1).
   */
  readonly messages: readonly Message[];
  /** Changed hard state to persist; null when unchanged. */
  readonly hardState: HardState | null;
  /**
   * A snapshot received from the leader that replaces the log up to its index, or null. Make
   * it the node's snapshot durably and drop the log it covers (keeping the entries after it
   * when the log held its last entry) before `entries` are written, which follow it; restore
   * the state machine from it before applying `committedEntries`, which follow it too (and
   * are empty while one is pending). `advance()` records it as applied.
   */
  readonly snapshot: SnapshotMeta | null;
  /**
   * Entries to append to stable storage, replacing any held at or after `entries[0].index`.
   */
  readonly entries: readonly Entry[];
  /** Whether the writes above need an fsync (entries, term or vote changed; not commit alone). */
  readonly mustSync: boolean;
  /** Messages to send only once `hardState` and `entries` are durable: votes, acknowledgements. */
  readonly messagesAfterPersist: readonly Message[];
  /** Committed entries to apply, in order, after `entries` are durable. */
  readonly committedEntries: readonly Entry[];
  /** Answers to `readIndex`: serve each read once `committedEntries` up to its index are applied. */
  readonly readStates: readonly ReadState[];
  /** Contexts of reads that will never be answered (leadership changed): fail or retry them. */
  readonly droppedReads: readonly string[];
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflightMessages: number;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The first entry still held (compacted entries and a snapshot come before it). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The index of the newest snapshot, pending or durable; 0 before the first. */
  readonly snapshotIndex: number;
  readonly membership: Membership;
  /** The leader's view of every member; empty on other roles. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
  readonly transferee: NodeId | null;
}

export class RawNode {
  readonly #raft: Raft;
  #prevSoftState: SoftState;
  #prevHardState: HardState;
  /** Taken by `ready()`, not yet accepted. */
  #outstanding: Ready | null = null;
  /** Accepted, not yet advanced, oldest first. */
  readonly #inFlight: Ready[] = [];

  constructor(options: RaftOptions) {
    this.#raft = new Raft(options);
    this.#prevSoftState = this.#raft.softState();
    this.#prevHardState = this.#raft.hardState();
  }

  get id(): NodeId {
    return this.#raft.id;
  }

  /** The current term, as the core knows it (a Ready's soft state may not have told it yet). */
  get term(): number {
    return this.#raft.term;
  }

  /** The role as the core knows it now (a Ready's soft state may not have told it yet). */
  get role(): Role {
    return this.#raft.role;
  }

  /** Whether this leader is handing leadership over (its transferee may campaign at once). */
  get transferring(): boolean {
    return this.#raft.transferee !== null;
  }

  /** Advances logical time by one tick: election timeouts, heartbeats, quorum checks. */
  tick(): void {
    this.#raft.tick();
  }

  /** Feeds a message from a peer; an invalid one is returned as an error and changes nothing. */
  step(message: Message): InvalidMessageError | undefined {
    return this.#raft.step(message);
  }

  /**
   * Proposes commands (leader only, else `NotLeaderError` with the known leader). They are
   * committed iff the entry at `lastIndex` is later applied with the returned `term`.
   */
  propose(commands: readonly Uint8Array[]): ProposalPosition {
    return this.#raft.propose(commands);
  }

  /** Requests a linearizable read index for `context`; see `Ready.readStates`. */
  readIndex(context: string): void {
    this.#raft.readIndex(context);
  }

  /**
   * Changes the membership (leader only; see `Raft.changeMembership`). The change is done
   * once the entry at the returned `lastIndex` applies with the returned term, and, when the
   * configuration in force after it is joint, once the entry that leaves it applies too.
   */
  changeMembership(changes: readonly MemberChange[]): ProposalPosition {
    return this.#raft.changeMembership(changes);
  }

  /** The configuration in force: the last one in the log, committed or not. */
  membership(): Membership {
    return this.#raft.membership;
  }

  /** The configuration in force at `index` of the log (what a snapshot there carries). */
  membershipAt(index: number): Membership {
    return this.#raft.log.configs.at(index);
  }

  /** The highest index known committed. */
  get commitIndex(): number {
    return this.#raft.log.committed;
  }

  /** The highest index applied (handed out to be applied and acknowledged). */
  get appliedIndex(): number {
    return this.#raft.log.applied;
  }

  /** The index of the entry that carries the configuration in force (0 for the initial one). */
  membershipIndex(): number {
    return this.#raft.log.configs.latestIndex();
  }

  /** Hands leadership to `to` (leader only). */
  transferLeader(to: NodeId): void {
    this.#raft.transferLeader(to);
  }

  /**
   * Tells the leader how sending its snapshot to `to` ended: `finished` (the follower has it,
   * its answer may follow) or not (the transfer broke: it will be sent again).
   */
  reportSnapshot(to: NodeId, finished: boolean): void {
    this.#raft.reportSnapshot(to, finished);
  }

  /** Starts an election at once, as if the election timeout had fired. */
  campaign(kind: CampaignKind = 'election'): void {
    this.#raft.campaign(kind);
  }

  hasReady(): boolean {
    const r = this.#raft;
    const soft = this.#prevSoftState;
    const hard = this.#prevHardState;
    // Field by field: this runs on every turn of the driving loop, so it allocates nothing.
    return (
      r.role !== soft.role ||
      r.leader !== soft.leader ||
      r.term !== hard.term ||
      r.vote !== hard.vote ||
      r.log.committed !== hard.commit ||
      r.log.unstable.hasToWrite() ||
      (r.log.unstable.snapshot !== null && !r.log.unstable.snapshotInProgress) ||
      r.messages.length > 0 ||
      r.messagesAfterPersist.length > 0 ||
      r.log.hasNextCommitted(r.options.asyncStorageWrites) ||
      r.readStates.length > 0 ||
      r.droppedReads.length > 0 ||
      r.hasDeferredWork()
    );
  }

  /** What to do now. Must be followed by `accept()` or `advance()` before the next `ready()`. */
  ready(): Ready {
    assert(this.#outstanding === null, 'ready() called again before accept() or advance()');
    const r = this.#raft;
    assert(
      !r.log.unstable.snapshotInProgress,
      'ready() called while a Ready with a snapshot is unfinished',
    );
    r.flush();
    const soft = r.softState();
    const hard = r.hardState();
    const hardChanged = !hardStateEqual(hard, this.#prevHardState);
    const entries = r.log.unstable.toWrite();
    const snapshot = r.log.unstable.snapshot;
    const rd: Ready = {
      softState: softStateEqual(soft, this.#prevSoftState) ? null : soft,
      messages: r.messages,
      hardState: hardChanged ? hard : null,
      snapshot,
      entries,
      mustSync:
        snapshot !== null ||
        entries.length > 0 ||
        hard.term !== this.#prevHardState.term ||
        hard.vote !== this.#prevHardState.vote,
      messagesAfterPersist: r.messagesAfterPersist,
      committedEntries: r.log.hasNextCommitted(r.options.asyncStorageWrites)
        ? r.log.nextCommitted(r.options.maxApplyBytes, r.options.asyncStorageWrites)
        : [],
      readStates: r.readStates,
      droppedReads: r.droppedReads,
    };
    r.messages = [];
    r.messagesAfterPersist = [];
    r.readStates = [];
    r.droppedReads = [];
    this.#prevSoftState = soft;
    this.#outstanding = rd;
    return rd;
  }

  /**
   * The last Ready was handed over: its messages sent, its write begun (to complete after the
   * writes of Readies accepted before it). The next `ready()` may come before `advance()`.
   */
  accept(): void {
    const rd = this.#outstanding;
    assert(rd !== null, 'accept() without an outstanding ready()');
    this.#outstanding = null;
    this.#inFlight.push(rd);
    const log = this.#raft.log;
    if (rd.hardState !== null) this.#prevHardState = rd.hardState;
    // Only if no newer snapshot replaced it since the Ready was taken (a driver that steps
    // messages before it accepts): that one is still to be handed out.
    if (rd.snapshot !== null && log.unstable.snapshot === rd.snapshot) {
      log.unstable.snapshotInProgress = true;
    }
    const lastEntry = rd.entries.at(-1);
    if (lastEntry !== undefined) log.unstable.handedOut(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committedEntries.at(-1);
    if (lastCommitted !== undefined) log.applyingTo(lastCommitted.index);
  }

  /** Whether a snapshot from the leader waits to be handed out by the next Ready. */
  hasPendingSnapshot(): boolean {
    const unstable = this.#raft.log.unstable;
    return unstable.snapshot !== null && !unstable.snapshotInProgress;
  }

  /** Readies accepted and not yet advanced. */
  get inFlight(): number {
    return this.#inFlight.length;
  }

  /**
   * Acknowledges the oldest unfinished Ready (accepting the last one first if it was not): its
   * writes are durable and its committed entries applied.
   */
  advance(): void {
    if (this.#outstanding !== null) this.accept();
    const rd = this.#inFlight.shift();
    assert(rd !== undefined, 'advance() without an outstanding ready()');
    if (rd.snapshot !== null) this.#raft.snapshotApplied(rd.snapshot.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.#raft.persisted(lastEntry.index, lastEntry.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) {
      let bytes = 0;
      for (const e of rd.committedEntries) bytes += entrySizeBytes(e);
      this.#raft.applied(lastApplied.index, bytes);
    }
  }

  /** The log as this core holds it, including entries not yet persisted. Read only. */
  log(): LogView {
    return this.#raft.log;
  }

  status(): Status {
    const r = this.#raft;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of r.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        inflightMessages: pr.inflights.count,
        recentActive: pr.recentActive,
      });
    }
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leader: r.leader,
      commitIndex: r.log.committed,
      appliedIndex: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      snapshotIndex: (r.log.unstable.snapshot ?? r.log.storage.snapshot())?.index ?? 0,
      membership: r.membership,
      progress,
      transferee: r.transferee,
    };
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}
