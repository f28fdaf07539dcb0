/**
 * @module
 * The Raft protocol as a deterministic state machine. Inputs are ticks, messages and local
 * requests; outputs are queued (messages, read states) or left in the log (entries to persist,
 * entries to apply) for `RawNode` to hand out as a Ready. No I/O, no clock, no global random.
 *
 * Messages go into one of two queues. `messages` may leave at once: they are the leader's, and
 * depend on nothing it has not already persisted (its term was durable before it could win).
 * `messagesAfterPersist` may only leave once the Ready's hard state and entries are durable:
 * votes, append acknowledgements, everything a non-leader says.
 */
import { assert } from './assert.js';
import { leaveJoint, type MemberChange, planChange } from './config-change.js';
import { encodeConfig } from './config-entry.js';
import {
  InvalidMessageError,
  MembershipChangeError,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  TransferRejectedError,
} from './errors.js';
import { type LogPosition, RaftLog } from './log.js';
import {
  allMembers,
  describeMembership,
  isJoint,
  isMember,
  isVoter,
  type Membership,
} from './membership.js';
import type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { type RaftOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Progress } from './progress.js';
import { committedIndex, quorumReached, type VoteResult, voteResult } from './quorum.js';
import { ReadIndexTracker, type ReleasedRead } from './read-index.js';
import {
  ENTRY_OVERHEAD_BYTES,
  type Entry,
  entrySizeBytes,
  type HardState,
  type NodeId,
  type ReadState,
  type Role,
  type SoftState,
} from './types.js';
import { checkMessageShape } from './validate.js';

/** Why a node starts an election: its timeout (with or without pre-vote), or a transfer. */
export type CampaignKind = 'pre-vote' | 'election' | 'transfer';

/** Where a proposal landed: it is committed iff the entry at `lastIndex` commits with `term`. */
export interface ProposalPosition {
  readonly term: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

/** A message as a step function writes it: sender and term are filled in by `#send`. */
type Outgoing<M> = M extends Message
  ? Omit<M, 'from' | 'to' | 'term'> & { readonly term?: number }
  : never;

export class Raft {
  readonly id: NodeId;
  readonly options: ResolvedOptions;
  readonly log: RaftLog;
  term: number;
  vote: NodeId | null;
  role: Role = 'follower';
  /** The leader known in `term`, or null. */
  leader: NodeId | null = null;
  /** The leader's view of each member's log (its own included); empty unless leader. */
  readonly progress = new Map<NodeId, Progress>();
  /** Votes received in the current (pre-)campaign. */
  readonly votes = new Map<NodeId, boolean>();
  messages: Message[] = [];
  messagesAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  /** Contexts of this node's reads that will never get a read state (leadership changed). */
  droppedReads: string[] = [];
  /** Ticks since the last election timeout reset (leader: since the last quorum check). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** The node leadership is being handed to, or null. Proposals are refused meanwhile. */
  transferee: NodeId | null = null;
  /** Bytes of entries proposed by this leader and not yet applied. */
  uncommittedBytes = 0;
  readonly reads: ReadIndexTracker;
  /** Contexts of reads this follower forwarded to the leader and awaits. */
  readonly #forwardedReads = new Set<string>();
  /** Proposals appended entries that followers have not been sent yet (see `flush`). */
  #entriesToBroadcast = false;
  #stepRole: (m: Message) => void = this.#stepFollower;
  #tickRole: () => void = this.#tickElection;

  constructor(options: RaftOptions) {
    const o = resolveOptions(options);
    this.options = o;
    this.id = o.id;
    this.log = new RaftLog(o.storage, o.applied, o.membership);
    this.reads = new ReadIndexTracker(o.maxPendingReads);
    const hs = o.storage.hardState();
    assert(
      hs.term >= this.log.lastTerm(),
      () => `stored term ${hs.term} below the last log term ${this.log.lastTerm()}`,
    );
    this.term = hs.term;
    this.vote = hs.vote;
    this.becomeFollower(this.term, null);
  }

  /** The configuration in force: the last one in this node's log, committed or not (§4.1). */
  get membership(): Membership {
    return this.log.configs.latest();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.#tickRole();
  }

  /**
   * Feeds a message received from a peer. Returns an error, and changes nothing, when the
   * message is malformed or makes no sense here; a merely stale message is ignored silently.
   */
  step(m: Message): InvalidMessageError | undefined {
    const problem = checkMessageShape(m) ?? this.#checkMeaning(m);
    if (problem !== undefined) return new InvalidMessageError(problem);
    if (m.term > this.term) {
      if (!this.#onHigherTerm(m)) return undefined;
    } else if (m.term < this.term) {
      this.#onLowerTerm(m);
      return undefined;
    }
    if (m.type === 'vote') this.#handleVote(m);
    else this.#stepRole(m);
    return undefined;
  }

  /** Appends commands to the leader's log and starts replicating them. */
  propose(commands: readonly Uint8Array[]): ProposalPosition {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader, this.term);
    if (this.transferee !== null) {
      throw new ProposalDroppedError(
        'transfer-in-progress',
        `leadership is moving to ${this.transferee}`,
      );
    }
    if (commands.length === 0) throw new ProposalDroppedError('invalid', 'no commands');
    let bytes = 0;
    for (const c of commands) {
      if (!(c instanceof Uint8Array)) {
        throw new ProposalDroppedError('invalid', 'a command must be a Uint8Array');
      }
      bytes += c.byteLength + ENTRY_OVERHEAD_BYTES;
    }
    // One proposal always fits when nothing is pending, however large: it must not starve.
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + bytes > this.options.maxUncommittedBytes
    ) {
      throw new OverloadedError(
        'maxUncommittedBytes',
        `${this.uncommittedBytes} bytes uncommitted, ${bytes} more would pass ${this.options.maxUncommittedBytes}`,
      );
    }
    const firstIndex = this.log.lastIndex() + 1;
    const entries: Entry[] = new Array(commands.length);
    for (let i = 0; i < commands.length; i++) {
      entries[i] = {
        index: firstIndex + i,
        term: this.term,
        kind: 'command',
        data: commands[i] as Uint8Array,
      };
    }
    this.log.append(entries);
    this.uncommittedBytes += bytes;
    this.#entriesToBroadcast = true; // sent by the next Ready, with any other proposals
    return { term: this.term, firstIndex, lastIndex: firstIndex + commands.length - 1 };
  }

  /**
   * Asks for a linearizable read index. The answer comes later as a read state with the same
   * `context` (which the caller keeps unique), or as a dropped read if leadership changes.
   * A follower forwards the request to its leader.
   */
  readIndex(context: string): void {
    if (this.role === 'leader') {
      this.#checkReadRoom(this.reads.pendingCount);
      this.reads.enqueue({ from: this.id, context });
      return;
    }
    if (this.role === 'follower' && this.leader !== null) {
      this.#checkReadRoom(this.#forwardedReads.size);
      this.#forwardedReads.add(context);
      this.#send(this.leader, { type: 'read-index', context });
      return;
    }
    throw new NotLeaderError(this.leader, this.term);
  }

  /** Hands leadership to `to` (thesis §3.10): catch it up, then tell it to campaign now. */
  transferLeader(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader, this.term);
    if (to === this.id) {
      this.transferee = null; // Already the leader: cancels any transfer under way.
      return;
    }
    if (!isVoter(this.membership, to)) {
      throw new TransferRejectedError(
        to,
        isMember(this.membership, to) ? 'it is a learner' : 'it is not a member',
      );
    }
    if (this.transferee === to) return;
    this.transferee = to;
    // The transfer must finish within an election timeout, or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.#send(to, { type: 'timeout-now' });
    else this.#sendAppends(to, true);
  }

  /**
   * Changes the membership (leader only). At most one voter added or removed goes straight to
   * the new configuration; more go through a joint one, which this leader leaves on its own
   * once it is committed. One change at a time: another is refused until the last one's entry
   * is committed (and a joint configuration left). A node becomes a voter only once its log is
   * within `maxPromotionLag` entries of the leader's. Returns where the entry landed.
   */
  changeMembership(changes: readonly MemberChange[]): ProposalPosition {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader, this.term);
    if (this.transferee !== null) {
      throw new ProposalDroppedError(
        'transfer-in-progress',
        `leadership is moving to ${this.transferee}`,
      );
    }
    if (this.#configPending()) {
      throw new MembershipChangeError(
        'change-in-progress',
        `the configuration at ${this.log.configs.latestIndex()} (${describeMembership(this.membership)}) is not yet committed and final`,
      );
    }
    // A leader must first commit an entry of its term: a configuration entry of an earlier
    // leader still unknown to it could otherwise be overtaken (the single-server bug, §4.1).
    if (this.log.term(this.log.committed) !== this.term) {
      throw new MembershipChangeError('not-ready', 'this leader has not yet committed an entry');
    }
    const plan = planChange(this.membership, changes);
    const last = this.log.lastIndex();
    for (const id of plan.newVoters) {
      const pr = this.progress.get(id);
      if (pr === undefined) {
        throw new MembershipChangeError(
          'not-caught-up',
          `${id} has no log yet: add it as a learner first`,
        );
      }
      if (pr.match === 0) {
        throw new MembershipChangeError('not-caught-up', `${id} has not answered the leader yet`);
      }
      if (pr.match + this.options.maxPromotionLag < last) {
        throw new MembershipChangeError(
          'not-caught-up',
          `${id} holds the log up to ${pr.match}, the leader's ends at ${last} (at most ${this.options.maxPromotionLag} behind)`,
        );
      }
    }
    const index = this.#appendConfig(plan.next);
    return { term: this.term, firstIndex: index, lastIndex: index };
  }

  /** Starts an election now (for tests and operators); a leader ignores it. */
  campaign(kind: CampaignKind): void {
    if (this.role === 'leader' || !isVoter(this.membership, this.id)) return;
    if (kind === 'pre-vote') this.#becomePreCandidate();
    else this.#becomeCandidate();
    const preVote = kind === 'pre-vote';
    if (this.#poll(this.id, true) === 'won') {
      // A single voter wins at once.
      if (preVote) this.campaign('election');
      else this.#becomeLeader();
      return;
    }
    const { index, term } = this.log.lastPosition();
    const request = {
      type: 'vote' as const,
      term: preVote ? this.term + 1 : this.term,
      preVote,
      lastIndex: index,
      lastTerm: term,
      transfer: kind === 'transfer',
    };
    for (const id of this.#voters()) if (id !== this.id) this.#send(id, request);
  }

  /** The layer above made entries up to (`index`, `term`) durable. */
  persisted(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.role !== 'leader') return;
    // The leader counts itself toward a quorum only for what is on its own disk.
    const self = this.progress.get(this.id) as Progress;
    if (self.maybeUpdate(this.log.persistedIndex()) && this.#maybeCommit()) {
      this.#broadcastAppend();
      this.#afterCommit();
    }
  }

  /**
   * The layer above says how sending a snapshot to `to` ended. Either way the leader probes
   * again, once the follower answers or the next heartbeat does: after a transfer that
   * finished, from just after the snapshot; after one that failed, from where it was, which
   * leads to sending a snapshot again.
   */
  reportSnapshot(to: NodeId, finished: boolean): void {
    const pr = this.progress.get(to);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!finished) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.probeSent = true;
  }

  /** The snapshot at `index` that replaced the log is durable and its state restored. */
  snapshotApplied(index: number): void {
    this.log.snapshotApplied(index);
  }

  /** The layer above applied committed entries up to `index`, totalling `sizeBytes`. */
  applied(index: number, sizeBytes: number): void {
    this.log.appliedTo(index);
    if (this.role === 'leader') {
      this.uncommittedBytes = Math.max(0, this.uncommittedBytes - sizeBytes);
    }
  }

  /**
   * Sends what was deferred until the next Ready, so that work arriving between two Readies
   * shares messages: new entries from every proposal go out in one AppendEntries per follower,
   * and the reads queued since the last round share one ReadIndex round (started only once
   * this leader has committed an entry of its own term: before, its commit index may lag, §6.4).
   */
  flush(): void {
    if (this.role !== 'leader') return;
    if (this.#entriesToBroadcast) {
      this.#entriesToBroadcast = false;
      this.#broadcastAppend();
    }
    if (this.#canStartReadRound()) {
      this.reads.startRound(this.log.committed, this.id);
      this.#releaseReads(this.reads.release(this.#hasQuorum));
      if (this.reads.pendingCount > 0) this.#broadcastHeartbeat();
    }
  }

  /** Whether `flush` has work to do now. */
  hasDeferredWork(): boolean {
    return this.role === 'leader' && (this.#entriesToBroadcast || this.#canStartReadRound());
  }

  #canStartReadRound(): boolean {
    return this.reads.hasQueued() && this.log.term(this.log.committed) === this.term;
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  becomeFollower(term: number, leader: NodeId | null): void {
    this.#reset(term);
    this.role = 'follower';
    this.leader = leader;
    this.#stepRole = this.#stepFollower;
    this.#tickRole = this.#tickElection;
  }

  #becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot pre-campaign');
    // Term and vote are unchanged: a pre-vote that fails leaves no trace.
    this.#dropReads();
    this.votes.clear();
    this.leader = null;
    this.electionElapsed = 0;
    this.#randomizeElectionTimeout();
    this.role = 'pre-candidate';
    this.#stepRole = this.#stepCandidate;
    this.#tickRole = this.#tickElection;
  }

  #becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot campaign');
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.#stepRole = this.#stepCandidate;
    this.#tickRole = this.#tickElection;
  }

  #becomeLeader(): void {
    assert(this.role === 'candidate', () => `${this.role} cannot become leader`);
    this.#reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.#stepRole = this.#stepLeader;
    this.#tickRole = this.#tickHeartbeat;
    const next = this.log.lastIndex() + 1;
    const { maxInflightMessages, maxInflightBytes } = this.options;
    for (const id of allMembers(this.membership)) {
      const match = id === this.id ? this.log.persistedIndex() : 0;
      const pr = new Progress(match, next, maxInflightMessages, maxInflightBytes);
      if (id === this.id) {
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
    // A no-op of the new term lets the leader commit, and so learn, the commit index (§5.4.2).
    this.log.append([{ index: next, term: this.term, kind: 'noop', data: new Uint8Array(0) }]);
    this.#broadcastAppend();
  }

  #reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.#randomizeElectionTimeout();
    this.transferee = null;
    this.votes.clear();
    this.progress.clear();
    this.#entriesToBroadcast = false;
    this.uncommittedBytes = 0;
    this.#dropReads();
  }

  #randomizeElectionTimeout(): void {
    const e = this.options.electionTicks;
    this.randomizedElectionTimeout = e + this.options.random.int(e);
  }

  #dropReads(): void {
    for (const read of this.reads.clear()) {
      if (read.from === this.id) this.droppedReads.push(read.context);
    }
    for (const context of this.#forwardedReads) this.droppedReads.push(context);
    this.#forwardedReads.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  #tickElection(): void {
    this.electionElapsed++;
    if (
      this.electionElapsed >= this.randomizedElectionTimeout &&
      isVoter(this.membership, this.id)
    ) {
      this.electionElapsed = 0;
      this.campaign(this.options.preVote ? 'pre-vote' : 'election');
    }
  }

  #tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum) {
        // Not heard from a quorum for an election timeout: another leader may exist; step down.
        if (!quorumReached(this.membership, (id) => this.progress.get(id)?.recentActive === true)) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      }
      this.#forgetRemoved();
      this.transferee = null; // A transfer not done within an election timeout is abandoned.
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Message handling common to every role

  /** Checks that need this node's state. Runs before anything changes. */
  #checkMeaning(m: Message): string | undefined {
    if (m.to !== this.id) return `${m.type} addressed to ${m.to}, but this node is ${this.id}`;
    const fromLeader =
      m.type === 'append' || m.type === 'heartbeat' || m.type === 'install-snapshot';
    // A leader may be a member this node has not learned of yet: its entries bring the news.
    // So may a candidate (thesis §4.1: a server votes without consulting its configuration,
    // or a newly added voter could never win); a removed leader hands off with timeout-now;
    // a leader still hears from the members it is removing until their removal commits.
    const known =
      fromLeader ||
      m.type === 'vote' ||
      (m.type === 'timeout-now' && m.from === this.leader) ||
      isMember(this.membership, m.from) ||
      (this.role === 'leader' && this.progress.has(m.from));
    if (!known) {
      return `${m.type} from ${m.from}, not a member of ${describeMembership(this.membership)}`;
    }
    if (m.term < this.term) return undefined; // Stale: ignored, not wrong.
    const leaderNow = this.role === 'leader' && m.term === this.term;
    if (fromLeader && leaderNow) {
      return `${m.type} from ${m.from} in term ${m.term}, in which this node is the leader`;
    }
    if (m.type === 'heartbeat' && m.commit > this.log.lastIndex()) {
      return `heartbeat commit ${m.commit} beyond the last index ${this.log.lastIndex()}`;
    }
    if (m.type === 'append-response' && leaderNow && m.index > this.log.lastIndex()) {
      return `append-response for index ${m.index} beyond the last index ${this.log.lastIndex()}`;
    }
    return undefined;
  }

  /** Returns whether the message should be processed further. */
  #onHigherTerm(m: Message): boolean {
    if (m.type === 'vote') {
      // Leader lease (thesis §4.2.3): a node that heard from a leader within the minimum
      // election timeout ignores votes, so a removed or partitioned node cannot depose a
      // healthy leader. Pre-votes always honour it; a transfer's election overrides it.
      const inLease = this.leader !== null && this.electionElapsed < this.options.electionTicks;
      // Only a member's election can be a transfer: a stranger's flag is not believed.
      const transfer = m.transfer && isVoter(this.membership, m.from);
      if (inLease && !transfer && (m.preVote || this.options.checkQuorum)) return false;
      if (!m.preVote) this.becomeFollower(m.term, null);
      return true;
    }
    // A granted pre-vote carries the term we would campaign in, not a newer cluster term.
    if (m.type === 'vote-response' && m.preVote && m.granted) return true;
    const fromLeader =
      m.type === 'append' ||
      m.type === 'heartbeat' ||
      m.type === 'timeout-now' ||
      m.type === 'install-snapshot';
    this.becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  #onLowerTerm(m: Message): void {
    if (
      (this.options.checkQuorum || this.options.preVote) &&
      (m.type === 'append' || m.type === 'heartbeat')
    ) {
      // A stale leader would never learn the new term: pre-vote and the lease keep elections
      // from reaching it. An answer carrying our term makes it step down.
      this.#send(m.from, {
        type: 'append-response',
        success: false,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === 'vote') {
      // Tell a candidate (or pre-candidate) behind in term that it is, so it catches up
      // instead of retrying below us for ever (§5.1: a stale request is rejected with the
      // current term). Without it, a candidate whose term trailed that of a node campaigning
      // in a stale configuration that leaves the candidate out never learnt the higher term,
      // and neither could win (simulator seed 2104831891, no pre-vote).
      this.#send(m.from, { type: 'vote-response', preVote: m.preVote, granted: false });
    }
  }

  #handleVote(m: VoteRequest): void {
    const canVote =
      (this.vote === m.from ||
        (this.vote === null && this.leader === null) ||
        (m.preVote && m.term > this.term)) &&
      this.#mayVote();
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.#send(m.from, {
        type: 'vote-response',
        term: m.term,
        preVote: m.preVote,
        granted: true,
      });
      if (!m.preVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.#send(m.from, { type: 'vote-response', preVote: m.preVote, granted: false });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Followers

  #stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.#handleHeartbeat(m);
        return;
      case 'timeout-now':
        this.campaign('transfer');
        return;
      case 'install-snapshot':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.#handleSnapshot(m);
        return;
      case 'read-index-response':
        if (this.#forwardedReads.delete(m.context)) {
          this.readStates.push({ context: m.context, index: m.index });
        }
        return;
      default:
        return;
    }
  }

  #handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      // Everything up to our commit index matches any leader's log: say how far we are.
      this.#sendAppendResponse(m.from, true, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.#sendAppendResponse(m.from, true, lastNew);
      return;
    }
    const hint = this.log.findConflictByTerm(m.prevIndex, m.prevTerm);
    this.#sendAppendResponse(m.from, false, m.prevIndex, hint);
  }

  #sendAppendResponse(to: NodeId, success: boolean, index: number, hint?: LogPosition): void {
    this.#send(to, {
      type: 'append-response',
      success,
      index,
      hintIndex: hint?.index ?? 0,
      hintTerm: hint?.term ?? 0,
    });
  }

  /**
   * A snapshot from the leader (paper §7). One at or below the commit index tells nothing new:
   * it is answered and ignored. One whose last entry the log already holds only moves the
   * commit index, and the log after it is kept. Otherwise it replaces the log.
   */
  #handleSnapshot(m: InstallSnapshot): void {
    const s = m.snapshot;
    if (s.index <= this.log.committed) {
      this.#sendAppendResponse(m.from, true, this.log.committed);
      return;
    }
    if (this.log.matchTerm(s.index, s.term)) {
      this.log.commitTo(s.index);
      this.#sendAppendResponse(m.from, true, s.index);
      return;
    }
    this.log.restore(s);
    this.#sendAppendResponse(m.from, true, s.index);
  }

  #handleHeartbeat(m: HeartbeatRequest): void {
    this.log.commitTo(m.commit);
    this.#send(m.from, { type: 'heartbeat-response', round: m.round });
  }

  // ---------------------------------------------------------------------------------------------
  // Candidates (and pre-candidates)

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return;
      case 'install-snapshot':
        this.becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return;
      case 'vote-response':
        this.#handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  /**
   * Whether this node may give its vote at all. A node that knows no
   * configuration (it has yet to be added, or lost its disk) votes for no one: its id may be
   * a voter's in a stale configuration that a removed node still holds, and with its vote
   * that node could lead a cluster of its own (simulator seed 437). Otherwise the candidate's
   * configuration is not this node's to judge: whether its log is up to date decides (thesis
   * §4.1; etcd). A removed node cannot win that way: the majority that committed its removal
   * holds a later log than its own. Refusing candidates outside this node's committed
   * configuration cost clusters their leader for good: a new voter this node had not heard of
   * (seed 396829782), then a member removed and added again under its id, which this node
   * had seen removed and not added back (seed 2104831891): each the only one up to date.
   */
  #mayVote(): boolean {
    return this.membership.voters.size > 0;
  }

  #handleVoteResponse(m: VoteResponse): void {
    const preCandidate = this.role === 'pre-candidate';
    if (m.preVote !== preCandidate) return; // An answer to another campaign.
    // A granted pre-vote must be for the term this pre-campaign asks for.
    if (m.preVote && m.granted && m.term !== this.term + 1) return;
    const result = this.#poll(m.from, m.granted);
    if (result === 'won') {
      if (preCandidate) this.campaign('election');
      else this.#becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  #poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.membership, this.votes);
  }

  // ---------------------------------------------------------------------------------------------
  // Leaders

  #stepLeader(m: Message): void {
    switch (m.type) {
      case 'append-response':
        this.#handleAppendResponse(m);
        return;
      case 'heartbeat-response':
        this.#handleHeartbeatResponse(m);
        return;
      case 'read-index':
        // Over the limit the request is dropped; the follower's read times out and retries.
        if (this.reads.pendingCount < this.options.maxPendingReads) {
          this.reads.enqueue({ from: m.from, context: m.context });
        }
        return;
      default:
        return;
    }
  }

  #handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (!m.success) {
      // Fast backtracking: skip every index the follower's hint rules out.
      const matchHint =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecreaseTo(m.index, matchHint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.#sendAppends(m.from);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot') {
      // The follower holds the snapshot (or, its log agreeing, already had what it covers).
      if (pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    } else pr.inflights.freeTo(m.index);
    const committed = this.#maybeCommit();
    if (committed) this.#broadcastAppend();
    else this.#sendAppends(m.from);
    if (m.from === this.transferee && pr.match === this.log.lastIndex()) {
      this.#send(m.from, { type: 'timeout-now' });
    }
    if (committed) this.#afterCommit();
  }

  #handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Acknowledgements may have been lost: free a slot so a full window can move again.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.#sendAppends(m.from, true);
    if (m.round > 0) {
      this.#releaseReads(this.reads.acknowledge(m.from, m.round, this.#hasQuorum));
    }
  }

  #maybeCommit(): boolean {
    const index = committedIndex(this.membership, (id) => this.progress.get(id)?.match ?? 0);
    return this.log.maybeCommit(index, this.term);
  }

  #broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppends(id);
  }

  #broadcastHeartbeat(): void {
    const round = this.reads.lastRound;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never beyond what the follower is known to hold, so it can always commit it.
      const commit = Math.min(pr.match, this.log.committed);
      pr.sentCommit = Math.max(pr.sentCommit, commit);
      this.#send(id, { type: 'heartbeat', commit, round });
    }
  }

  /**
   * Sends what the follower may receive now: one message in probe, as many as the inflight
   * window allows in replicate. Without new entries, a message still goes when it lets the
   * follower advance its commit index, or with `probeIfIdle`: an empty AppendEntries at
   * `next - 1` that the follower rejects if messages were lost, so the leader finds out.
   */
  #sendAppends(to: NodeId, probeIfIdle = false): void {
    const pr = this.progress.get(to) as Progress;
    if (!this.#sendAppend(to, pr, probeIfIdle)) return;
    while (pr.state === 'replicate' && this.#sendAppend(to, pr, false)) {
      // Each send of entries fills one inflight slot, so the window bounds this loop.
    }
  }

  #sendAppend(to: NodeId, pr: Progress, probeIfIdle: boolean): boolean {
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    // The follower needs entries compacted away: only a snapshot can bring it up to date.
    if (prevTerm === undefined) return this.#sendSnapshot(to, pr);
    const last = this.log.lastIndex();
    const entries =
      pr.next <= last ? this.log.slice(pr.next, last + 1, this.options.maxAppendBytes) : [];
    // The follower commits up to min(commit, the last entry it got).
    const commitTold = Math.min(this.log.committed, prevIndex + entries.length);
    if (entries.length === 0 && commitTold <= pr.sentCommit && !probeIfIdle) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySizeBytes(e);
    pr.sentEntries(prevIndex + entries.length, bytes);
    pr.sentCommit = Math.max(pr.sentCommit, commitTold);
    this.#send(to, { type: 'append', prevIndex, prevTerm, entries, commit: this.log.committed });
    return true;
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.log.storage.snapshot();
    assert(
      snapshot !== null && snapshot.index >= pr.next - 1,
      () =>
        `${to} needs entry ${pr.next} and no snapshot covers it (first ${this.log.firstIndex()})`,
    );
    pr.becomeSnapshot(snapshot.index);
    this.#send(to, { type: 'install-snapshot', snapshot });
    return true;
  }

  /** Whether a configuration entry is not yet committed, or a joint one not yet left. */
  #configPending(): boolean {
    return this.log.configs.latestIndex() > this.log.committed || isJoint(this.membership);
  }

  /** Appends a configuration entry; it is in force here at once, and on others once held. */
  #appendConfig(next: Membership): number {
    const before = this.membership;
    const index = this.log.lastIndex() + 1;
    this.log.append([{ index, term: this.term, kind: 'config', data: encodeConfig(next) }]);
    const { maxInflightMessages, maxInflightBytes } = this.options;
    for (const id of allMembers(next)) {
      // A member already is followed on. One removed whose progress is still kept (until the
      // next election timeout) and now added again may be a new node under the old id (its
      // disk replaced): what the old one held is no promise of the new one's.
      if (this.progress.has(id) && isMember(before, id)) continue;
      // A new member is probed just before the end of the log; its answers find where it is.
      this.progress.set(id, new Progress(0, index, maxInflightMessages, maxInflightBytes));
    }
    this.#entriesToBroadcast = true;
    return index;
  }

  /**
   * What a newly committed configuration asks of this leader: leave a joint configuration
   * (§4.3), or, removed from the voters, hand leadership to the most up-to-date voter and step
   * down (§4.2.2).
   */
  #afterCommit(): void {
    if (this.role !== 'leader' || this.log.configs.latestIndex() > this.log.committed) return;
    const m = this.membership;
    if (isJoint(m)) {
      this.#appendConfig(leaveJoint(m));
      return;
    }
    if (isVoter(m, this.id)) return;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const id of m.voters) {
      const match = this.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== null && bestMatch === this.log.lastIndex()) {
      this.#send(best, { type: 'timeout-now' });
    }
    this.becomeFollower(this.term, null);
  }

  /** Stops replicating to nodes whose removal is committed (they had a timeout to learn it). */
  #forgetRemoved(): void {
    if (this.log.configs.latestIndex() > this.log.committed) return;
    for (const id of this.progress.keys()) {
      if (id !== this.id && !isMember(this.membership, id)) this.progress.delete(id);
    }
  }

  #releaseReads(released: readonly ReleasedRead[]): void {
    for (const read of released) {
      if (read.from === this.id) {
        this.readStates.push({ context: read.context, index: read.index });
      } else {
        this.#send(read.from, {
          type: 'read-index-response',
          context: read.context,
          index: read.index,
        });
      }
    }
  }

  readonly #hasQuorum = (acks: ReadonlySet<NodeId>): boolean =>
    quorumReached(this.membership, (id) => acks.has(id));

  #checkReadRoom(pending: number): void {
    if (pending >= this.options.maxPendingReads) {
      throw new OverloadedError('maxPendingReads', `${pending} reads are already waiting`);
    }
  }

  /** Voters of both halves of the configuration, each once. */
  #voters(): NodeId[] {
    const ids = new Set(this.membership.voters);
    for (const id of this.membership.outgoingVoters) ids.add(id);
    return [...ids];
  }

  #send(to: NodeId, body: Outgoing<Message>): void {
    const m = { from: this.id, to, term: this.term, ...body } as Message;
    if (this.role === 'leader') this.messages.push(m);
    else this.messagesAfterPersist.push(m);
  }
}
