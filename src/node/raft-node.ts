/**
 * @module
 * `RaftNode`: one member of a cluster, running. It drives the core with an injected clock,
 * storage and transport, carrying out each Ready in the order that keeps data safe
 * (`core/ready-order.ts`; docs/architecture.md tells the whole path).
 *
 * Readies overlap: the next is taken while the previous one's write is under way (see
 * `#drain`), and each finishes in order once durable; the storage gathers the writes that
 * queue behind a running fsync into one group commit.
 *
 * The node is split by concern: `Leadership` (who leads, and waiting for a leader),
 * `Proposals` (the leader's own and forwarded ones, until their entry applies), `Reads`
 * (ReadIndex), `ClusterIdentity`, and `Waiters`, which expires and fails every wait in one
 * place. This file wires them to the loop: ticks, messages, Readies, applying.
 */
import { EventEmitter } from 'node:events';
import {
  AssertionError,
  beginOverlappedReady,
  carryOutReady,
  type Entry,
  finishOverlappedReady,
  type HardState,
  type MemberChange,
  type MembershipSpec,
  membershipSpec,
  type NodeId,
  NotLeaderError,
  type ProgressStatus,
  ProposalDroppedError,
  RawNode,
  type Ready,
  type Role,
  type SnapshotMeta,
  type SoftState,
  unknownMembership,
} from '../core/index.js';
import { type DurableStorage, snapshotFileBytes } from '../storage/index.js';
import {
  MESSAGE_OVERHEAD_BYTES,
  type Transport,
  type TransportStats,
  type WireMessage,
} from '../transport/index.js';
import type { Clock, Timer } from './clock.js';
import { ClusterIdentity } from './cluster-identity.js';
import { clusterIdentityOf, decodeCommand, LeaderClock, LogClock } from './command.js';
import { InvalidCommandError, NodeStoppedError } from './errors.js';
import { Leadership } from './leadership.js';
import { type ChangeResult, type MemberList, Members } from './members.js';
import {
  checkNodeOptions,
  maxCommandBytes,
  type NodeLogger,
  type RaftNodeOptions,
  resolveTiming,
  silentLogger,
} from './options.js';
import { type Outcome, Proposals } from './proposals.js';
import { leaseDurationMs, Reads } from './reads.js';
import { SnapshotTransfers } from './snapshot-transfer.js';
import { restoreFrom, Snapshots } from './snapshots.js';
import type { StateMachine } from './state-machine.js';
import { systemClock, systemRandom } from './system-clock.js';
import { Waiters } from './waiter.js';
import { WriteStages } from './write-stages.js';

/** Readies whose writes may be under way at once (a bound on memory, not a tuning knob). */
const MAX_READIES_IN_FLIGHT = 256;

export interface NodeEvents {
  /** This node's role changed. */
  role: [role: Role, term: number];
  /** The leader this node knows changed (null: none known). */
  leader: [leader: NodeId | null, term: number];
  /** The node stopped; `reason` is the error that stopped it, or null for `stop()`. */
  stopped: [reason: Error | null];
  /** The configuration in force changed (an entry appended, cut away, or a snapshot). */
  members: [members: MemberList];
  /** A configuration entry was applied (committed, in log order), with what it holds. */
  configuration: [index: number, spec: MembershipSpec];
  /**
   * This node is no longer a member: the configuration committed at `index` leaves it out.
   * It takes no part in the cluster any more; stop it.
   */
  removed: [index: number];
  /** A snapshot was written by this node (`taken`) or received from the leader (`installed`). */
  snapshot: [kind: 'taken' | 'installed', index: number];
}

/** Which way a message went: sent by this node, or received by it. */
export type MessageDirection = 'sent' | 'received';

/**
 * Sees every Raft message the node sends or receives (not forwarded proposals, snapshot
 * chunks or membership requests), synchronously: it must be cheap and must not throw.
 */
export type MessageTap = (direction: MessageDirection, message: WireMessage) => void;

/** Terms along a stretch of the log, run-length coded: `[firstIndex, term]` per run. */
export type TermRuns = readonly (readonly [index: number, term: number])[];

export interface WaitOptions {
  /** Milliseconds to wait; the node's default when absent. */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface ReadOptions extends WaitOptions {
  /** Serve from this node's state as it is, without asking the leader. May be stale. */
  readonly stale?: boolean;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The first entry still in the log (those before it are compacted behind a snapshot). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The newest snapshot's index; 0 before the first. */
  readonly snapshotIndex: number;
  /** The voters' ids. */
  readonly members: readonly NodeId[];
  /** The learners' ids (non-voting members). */
  readonly learners: readonly NodeId[];
  /** The identity the cluster drew when it first formed; null until this node learns it. */
  readonly cluster: string | null;
}

export class RaftNode<S extends StateMachine = StateMachine> extends EventEmitter<NodeEvents> {
  readonly id: NodeId;
  readonly stateMachine: S;
  readonly #raw: RawNode;
  readonly #storage: DurableStorage;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #logger: NodeLogger;
  readonly #options: RaftNodeOptions<S>;
  readonly #tickMs: number;
  readonly #maxCommandBytes: number;
  readonly #waiters: Waiters;
  readonly #leadership: Leadership;
  readonly #proposals: Proposals;
  readonly #reads: Reads;
  readonly #identity: ClusterIdentity;
  readonly #snapshots: Snapshots;
  readonly #transfers: SnapshotTransfers;
  readonly #members: Members;
  /** Followed only when `onWriteStage` is given. */
  readonly #stages: WriteStages | null;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #stopping: Promise<void> | null = null;
  #failure: Error | null = null;
  #tickTimer: Timer | null = null;
  #scheduled = false;
  /**
   * The Readies taken and not yet finished, as a chain: each finishes (messages after persist,
   * apply, advance) once its write and every earlier one's are done. Rejects with the first
   * failed write, after which nothing more finishes.
   */
  #pipeline: Promise<void> = Promise.resolve();
  /** A Ready with a snapshot is under way: no other is taken until it is finished. */
  #installing = false;
  /** Readies whose writes may be under way at once: 1 with `overlapWrites: false`. */
  readonly #maxInFlight: number;
  /** A hard state whose only news is the commit index, not yet written (see `#persist`). */
  #deferredCommit: HardState | null = null;
  /** Index and term of the last entry applied; a higher term supersedes older proposals. */
  #applied = 0;
  #appliedTerm = 0;
  /** The log's time as of the last entry applied (see `command.ts`). */
  readonly #logClock = new LogClock();
  /** This node's stamps while it leads; null otherwise. */
  #leaderClock: LeaderClock | null = null;
  #rejectedMessages = 0;
  #lastRejectionLog = Number.NEGATIVE_INFINITY;
  /** Sees every Raft message when set (the dashboard); one branch per message when not. */
  #tap: MessageTap | null = null;

  constructor(options: RaftNodeOptions<S>) {
    super();
    checkNodeOptions(options);
    const timing = resolveTiming(options);
    const random = options.random ?? systemRandom();
    this.id = options.id;
    this.stateMachine = options.stateMachine;
    this.#options = options;
    this.#storage = options.storage;
    this.#transport = options.transport;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#tickMs = timing.tickMs;
    this.#maxCommandBytes = maxCommandBytes(options.transport);
    /** Random per start: tells this life's forwarded requests and reads from a previous life's. */
    const incarnation = random.int(2 ** 32);
    const budget = options.transport.maxMessageBytes - MESSAGE_OVERHEAD_BYTES;
    // With a snapshot, the state machine is restored from it at start: applied from there.
    const snapshot = options.storage.snapshot();
    this.#raw = new RawNode({
      ...options.raft,
      ...(snapshot === null ? {} : { applied: snapshot.index }),
      id: options.id,
      storage: options.storage,
      membership: options.join === true ? unknownMembership : { voters: [...options.members] },
      random,
      electionTicks: timing.electionTicks,
      heartbeatTicks: timing.heartbeatTicks,
      // Several entries travel in one message only while they fit the transport.
      maxAppendBytes: Math.min(options.raft?.maxAppendBytes ?? 1024 * 1024, budget),
      // The loop overlaps writes (see `#drain`).
      asyncStorageWrites: true,
    });
    const status = this.#raw.status();
    this.#applied = status.appliedIndex;
    this.#appliedTerm = snapshot?.term ?? 0;
    this.#waiters = new Waiters(() => this.#clock.now());
    this.#maxInFlight = options.overlapWrites === false ? 1 : MAX_READIES_IN_FLIGHT;
    this.#stages =
      options.onWriteStage === undefined ? null : new WriteStages(options.onWriteStage);
    this.#leadership = new Leadership(this.#waiters, () => this.#clock.now(), status.term);
    const parts = {
      raw: this.#raw,
      waiters: this.#waiters,
      incarnation,
      schedule: () => this.#schedule(),
      notLeader: () => this.#notLeader(),
      brokenInvariant: (e: unknown) => this.#brokenInvariant(e),
    };
    this.#proposals = new Proposals({
      ...parts,
      id: this.id,
      transport: this.#transport,
      maxCommandBytes: this.#maxCommandBytes,
      leadership: this.#leadership,
      stamp: () => this.#stamp(),
      addressOf: (id) => this.#addressOf(id),
      proposed: (index) => this.#stages?.proposed(index),
    });
    this.#reads = new Reads({
      ...parts,
      checkRunning: () => this.#checkRunning(),
      leaseMs:
        options.readMode === 'lease' ? leaseDurationMs(timing.electionTicks, timing.tickMs) : null,
      clock: this.#clock,
      applied: () => this.#applied,
    });
    this.#identity = new ClusterIdentity({
      raw: this.#raw,
      random,
      storage: this.#storage,
      transport: this.#transport,
      logger: this.#logger,
      schedule: () => this.#schedule(),
      fail: (e) => void this.#stop(e),
    });
    this.#snapshots = new Snapshots({
      storage: this.#storage,
      stateMachine: this.stateMachine,
      logger: this.#logger,
      policy: options,
      header: () => ({ logTime: this.#logClock.time, cluster: this.#identity.value }),
      membershipAt: (index) => this.#raw.membershipAt(index),
      written: (index) => this.#emit('snapshot', 'taken', index),
      fail: (e) => void this.#stop(e),
    });
    this.#members = new Members({
      id: this.id,
      joining: options.join === true && this.#raw.status().lastIndex === 0,
      raw: this.#raw,
      transport: this.#transport,
      waiters: this.#waiters,
      clock: this.#clock,
      logger: this.#logger,
      fallbackAddress: (id) => this.#options.addresses?.[id] ?? id,
      propose: (what, timeoutMs, signal, append) =>
        this.#proposals.local(what, timeoutMs, signal, append),
      updatePeers: (peers) => this.#transport.updatePeers?.(peers),
      changed: (list) => this.#emit('members', list),
      removed: (index) => {
        this.#logger.warn(
          { index },
          `this node was removed from the cluster by the configuration at ${index}`,
        );
        this.#emit('removed', index);
      },
      leader: () => ({
        leader: this.#leadership.leader,
        term: this.#leadership.term,
        isLeader: this.#leadership.role === 'leader',
      }),
      transfer: (to, timeoutMs) => this.transferLeadership(to, { timeoutMs }),
      removedPeerGraceMs: 2 * timing.electionTicks * timing.tickMs,
    });
    this.#transfers = new SnapshotTransfers({
      id: this.id,
      raw: this.#raw,
      storage: this.#storage,
      transport: this.#transport,
      logger: this.#logger,
      now: () => this.#clock.now(),
      options: options.snapshotTransfer ?? {},
      deliver: (m) => this.#onMessage(m),
      schedule: () => this.#schedule(),
    });
  }

  /** Creates a node and starts it. */
  static async start<S extends StateMachine>(options: RaftNodeOptions<S>): Promise<RaftNode<S>> {
    const node = new RaftNode(options);
    await node.start();
    return node;
  }

  /** Starts listening and ticking. Committed entries already on disk are applied first. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new NodeStoppedError(this.#failure);
    this.#state = 'running';
    try {
      await this.#restoreSnapshot();
      await this.#transport.start((m) => this.#onMessage(m));
    } catch (e) {
      await this.#stop(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    this.#members.sync();
    this.#armTick();
    this.#schedule();
    const voters = this.#members.list().voters.map((v) => v.id);
    this.#logger.info({ id: this.id, members: voters }, 'node started');
  }

  /** After a restart: the state machine from the newest snapshot, the log after it replayed. */
  async #restoreSnapshot(): Promise<void> {
    const file = this.#storage.snapshotFile?.() ?? null;
    if (file === null) return;
    const header = await restoreFrom(this.#storage, this.stateMachine, file);
    this.#logClock.restore(header.logTime);
    if (header.cluster !== null) this.#identity.learn(header.cluster, file.meta.index);
    this.#logger.info(
      { index: file.meta.index },
      `state restored from the snapshot at ${file.meta.index}`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Who leads

  /** The leader this node knows, or null. */
  get leader(): NodeId | null {
    return this.#leadership.leader;
  }

  getLeader(): NodeId | null {
    return this.#leadership.leader;
  }

  get role(): Role {
    return this.#leadership.role;
  }

  get term(): number {
    return this.#leadership.term;
  }

  get isLeader(): boolean {
    return this.#leadership.role === 'leader';
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  /** The error that stopped the node, when it did not stop on request. */
  get failure(): Error | null {
    return this.#failure;
  }

  /**
   * Resolves with the leader's id once a leader is known (once `id` is the leader, if given).
   * Waits without limit unless `timeoutMs` is given.
   */
  waitUntilLeader(id?: NodeId, options: WaitOptions = {}): Promise<NodeId> {
    return this.#leadership.waitUntilLeader(id, options);
  }

  /**
   * Hands leadership to `to`; resolves once this node knows `to` leads. On a follower (unless
   * `forwardProposals` is off) the leader is asked to do it.
   */
  async transferLeadership(to: NodeId, options: WaitOptions = {}): Promise<void> {
    this.#checkRunning();
    if (this.#leadership.role !== 'leader' && this.#options.forwardProposals !== false) {
      await this.#members.forward({ transfer: to }, this.#changeOptions(options));
      await this.waitUntilLeader(to, options);
      return;
    }
    try {
      this.#raw.transferLeader(to);
    } catch (e) {
      throw this.#brokenInvariant(e) ?? e;
    }
    this.#schedule();
    await this.waitUntilLeader(to, options);
  }

  // -------------------------------------------------------------------------------------------
  // Members

  /** The index of the configuration that removed this node, once committed; else null. */
  get removedAt(): number | null {
    return this.#members.removedAt;
  }

  /** The configuration in force on this node: voters and learners, with their addresses. */
  members(): MemberList {
    return this.#members.list();
  }

  /**
   * For a node started with `join: true`: the configuration at `index` added it. Until this
   * is called, such a node never concludes from its log that it was removed (it may be sent
   * the configurations of an earlier member under its id); after it, a later configuration
   * that leaves it out does (the `removed` event).
   */
  joined(index: number): void {
    this.#members.joined(index);
  }

  /**
   * Adds `id`, listening at `address`, as a learner: it receives the log (or a snapshot) but
   * does not vote. Leader only; resolves once the change has applied here.
   */
  addLearner(id: NodeId, address: string, options: WaitOptions = {}): Promise<ChangeResult> {
    return this.changeMembership([{ type: 'add-learner', id, address }], options);
  }

  /** Makes the learner `id` a voter, once its log is close enough to the leader's. */
  promote(id: NodeId, options: WaitOptions = {}): Promise<ChangeResult> {
    return this.changeMembership([{ type: 'add-voter', id }], options);
  }

  /**
   * Adds a voter in one call: as a learner first (unless it is one), then, once it has caught
   * up to within the core's promotion bound, promoted. Leader only.
   */
  addVoter(id: NodeId, address?: string, options: WaitOptions = {}): Promise<ChangeResult> {
    const o = this.#changeOptions(options);
    return this.#memberCall(
      () => this.#members.addVoter(id, address, o),
      () =>
        this.#members.forward({ addVoter: address === undefined ? { id } : { id, address } }, o),
    );
  }

  /** Takes `id` (voter or learner) out of the cluster. A leader that removes itself steps down. */
  removeMember(id: NodeId, options: WaitOptions = {}): Promise<ChangeResult> {
    return this.changeMembership([{ type: 'remove', id }], options);
  }

  /**
   * Any change at once: one voter added or removed goes straight to the new configuration,
   * more go through a joint one (resolved once it has been left). Leader only; one at a time.
   */
  changeMembership(
    changes: readonly MemberChange[],
    options: WaitOptions = {},
  ): Promise<ChangeResult> {
    const o = this.#changeOptions(options);
    return this.#memberCall(
      () => this.#members.change(changes, o),
      () => this.#members.forward({ changes }, o),
    );
  }

  #changeOptions(options: WaitOptions): { timeoutMs: number; signal: AbortSignal | undefined } {
    return {
      timeoutMs: options.timeoutMs ?? this.#options.proposalTimeoutMs ?? 10_000,
      signal: options.signal,
    };
  }

  /**
   * A membership call: carried out here on the leader; on a follower, forwarded to the leader
   * unless `forwardProposals` is off (then NotLeaderError, with the leader's address).
   */
  #memberCall(
    here: () => Promise<ChangeResult>,
    forwarded: () => Promise<ChangeResult>,
  ): Promise<ChangeResult> {
    let p: Promise<ChangeResult>;
    try {
      this.#checkRunning();
      if (this.#leadership.role === 'leader') p = here();
      else if (this.#options.forwardProposals === false || this.#leadership.leader === null) {
        throw this.#notLeader();
      } else p = forwarded();
    } catch (e) {
      return Promise.reject(e);
    }
    this.#schedule();
    return p;
  }

  /** The highest log index this node knows committed (what `status()` has, without the rest). */
  get commitIndex(): number {
    return this.#raw.commitIndex;
  }

  status(): NodeStatus {
    const s = this.#raw.status();
    return {
      id: this.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      members: [...s.membership.voters],
      learners: [...s.membership.learners],
      cluster: this.#identity.value,
    };
  }

  /**
   * The identity this node's cluster drew when it first formed, or null until this node has
   * applied the entry that names it (its first leader writes it once its first entry commits).
   */
  get clusterIdentity(): string | null {
    return this.#identity.value;
  }

  /** The log's time as of the last entry applied, in milliseconds (see `command.ts`). */
  get logTime(): number {
    return this.#logClock.time;
  }

  /**
   * The leader's view of every member (match and next index, replication state, messages in
   * flight); empty unless this node leads.
   */
  replication(): ReadonlyMap<NodeId, ProgressStatus> {
    return this.#raw.status().progress;
  }

  /**
   * The terms of the entries this node holds in `[low, high]`, run-length coded; indexes
   * compacted away or beyond the log are left out.
   */
  logTerms(low: number, high: number): TermRuns {
    const log = this.#raw.log();
    const from = Math.max(low, log.firstIndex());
    const to = Math.min(high, log.lastIndex());
    const runs: [number, number][] = [];
    for (let i = from; i <= to; i++) {
      const term = log.term(i);
      if (term === undefined) continue;
      if (runs.at(-1)?.[1] !== term) runs.push([i, term]);
    }
    return runs;
  }

  /** Sets (or clears, with null) the one observer of Raft messages (see `MessageTap`). */
  tapMessages(tap: MessageTap | null): void {
    this.#tap = tap;
  }

  transportStats(): TransportStats {
    return this.#transport.stats();
  }

  /** Linearizable reads asked of this node so far: served under a lease, or by a round. */
  readCounts(): { readonly lease: number; readonly round: number } {
    return { lease: this.#reads.leaseReads, round: this.#reads.roundReads };
  }

  // -------------------------------------------------------------------------------------------
  // Writes and reads

  /** The largest command `propose` accepts, in bytes. */
  get maxCommandBytes(): number {
    return this.#maxCommandBytes;
  }

  /**
   * Replicates `command` and resolves with what the state machine returned for it. On a
   * follower, the command is forwarded to the leader unless `forwardProposals` is off.
   * A TimeoutError or AbortedError leaves the outcome unknown: the command may still apply.
   */
  propose(command: Uint8Array, options: WaitOptions = {}): Promise<unknown> {
    try {
      this.#checkRunning();
      if (!(command instanceof Uint8Array)) {
        throw new ProposalDroppedError('invalid', 'a command must be a Uint8Array');
      }
      if (command.byteLength > this.#maxCommandBytes) {
        throw new ProposalDroppedError(
          'too-large',
          `${command.byteLength}-byte command; this transport carries up to ${this.#maxCommandBytes}`,
        );
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const timeoutMs = options.timeoutMs ?? this.#options.proposalTimeoutMs ?? 10_000;
    const forwarding = this.#options.forwardProposals !== false;
    return this.#leadership.run(timeoutMs, options.signal, forwarding, (remaining) => {
      if (this.#leadership.role === 'leader') {
        return this.#proposals.here(command, remaining, options.signal);
      }
      if (!forwarding) return Promise.reject(this.#notLeader());
      return this.#proposals.forward(command, remaining, options.signal);
    });
  }

  /**
   * Runs `fn` on the state machine once it reflects every write committed before the call
   * (linearizable, through ReadIndex), or at once with `stale: true`.
   */
  async read<R>(fn: (state: S) => R, options: ReadOptions = {}): Promise<R> {
    if (options.stale !== true) await this.readBarrier(options);
    else this.#checkRunning();
    return fn(this.stateMachine);
  }

  /**
   * Resolves, with the applied index, once this node's state machine holds every write that
   * was committed when the call was made: after it, local reads are linearizable.
   */
  readBarrier(options: WaitOptions = {}): Promise<number> {
    const timeoutMs = options.timeoutMs ?? this.#options.readTimeoutMs ?? 10_000;
    return this.#leadership.run(timeoutMs, options.signal, true, (remaining) =>
      this.#reads.readIndex(remaining, options.signal),
    );
  }

  /**
   * A backup: a snapshot of everything committed when the call was made (after a read
   * barrier, so on any member), written to this node's disk as its newest snapshot, and the
   * bytes of its file, read back and checked as they stream (`raftkit snapshot save`).
   */
  async backup(
    options: WaitOptions = {},
  ): Promise<{ meta: SnapshotMeta; bytes: AsyncIterable<Uint8Array> }> {
    await this.readBarrier(options);
    const file = await this.#snapshots.now(() => ({
      index: this.#applied,
      term: this.#appliedTerm,
    }));
    const read = this.#storage.readSnapshot as NonNullable<DurableStorage['readSnapshot']>;
    return { meta: file.meta, bytes: snapshotFileBytes(file.meta, read.call(this.#storage, file)) };
  }

  // -------------------------------------------------------------------------------------------
  // Stopping

  /** Stops ticking, fails what is pending, closes the transport and the storage. Idempotent. */
  stop(): Promise<void> {
    return this.#stop(null);
  }

  #stop(reason: Error | null): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#failure = reason;
    this.#state = 'stopped';
    this.#tickTimer?.cancel();
    this.#stopping = (async () => {
      this.#waiters.rejectAll(new NodeStoppedError(reason));
      this.#transfers.close();
      await this.#pipeline.catch(() => {});
      // A clean stop leaves the commit index recorded (a failed disk takes nothing more).
      if (reason === null) await this.#writeDeferredCommit()?.catch(() => {});
      await this.#snapshots.taking;
      await this.#transport.close().catch((e: unknown) => {
        this.#logger.warn({ err: e }, 'closing the transport failed');
      });
      await this.#storage.close().catch((e: unknown) => {
        this.#logger.warn({ err: e }, 'closing the storage failed');
      });
      if (reason !== null) this.#logger.error({ err: reason }, 'node stopped by a failure');
      else this.#logger.info({ id: this.id }, 'node stopped');
      this.#emit('stopped', reason);
    })();
    return this.#stopping;
  }

  // -------------------------------------------------------------------------------------------
  // The loop

  #armTick(): void {
    this.#tickTimer = this.#clock.setTimer(this.#tickMs, () =>
      this.#guard(() => {
        this.#raw.tick();
        this.#writeDeferredCommit()?.catch((e: unknown) => {
          void this.#stop(e instanceof Error ? e : new Error(String(e)));
        });
        this.#waiters.expire();
        this.#transfers.tick();
        this.#members.tick();
        this.#schedule();
        this.#armTick();
      }),
    );
  }

  /**
   * Runs one entry into the node (a tick, a message). A throw there is a broken invariant, a
   * bug here or in the core: the node stops with it rather than go on in a wrong state or
   * go silent with its timer lost.
   */
  #guard(fn: () => void): void {
    if (this.#state !== 'running') return;
    try {
      fn();
    } catch (e) {
      void this.#stop(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#state !== 'running') return;
    this.#scheduled = true;
    const defer = this.#clock.defer ?? queueMicrotask;
    defer(() => {
      this.#scheduled = false;
      this.#guard(() => this.#drain());
    });
  }

  /** What the node does at each step of a Ready (the order is `carryOutReady`'s). */
  readonly #readyHandler = {
    observe: (soft: SoftState) => this.#onSoftState(soft),
    send: (messages: readonly WireMessage[]) => {
      for (const m of messages) {
        this.#tap?.('sent', m);
        // A snapshot streams in pieces beside the core, not as one message.
        if (m.type === 'install-snapshot') this.#transfers.send(m);
        else this.#transport.send(m);
      }
    },
    persist: (rd: Ready) => this.#persist(rd),
    proceed: () => this.#state === 'running',
    apply: (rd: Ready) => {
      const last = rd.committedEntries.at(-1);
      if (this.#stages !== null && last !== undefined) this.#stages.committed(last.index);
      this.#apply(rd.committedEntries);
      if (this.#stages !== null && last !== undefined) this.#stages.applied(last.index);
      this.#reads.answered(rd.readStates, rd.droppedReads, this.#applied, this.#leadership.term);
    },
  };

  /**
   * Takes every Ready there is, without waiting for the disk (thesis §10.2.1; etcd's
   * asynchronous storage writes): each one's messages leave and its write begins at once, so
   * that while one fsync runs the leader keeps accepting, replicating and committing, and the
   * storage gathers the writes that queue behind it into its next group commit. Each Ready
   * finishes in the order taken, once its write and the earlier ones are durable (the storage
   * completes them in order). A snapshot to install waits for the Readies before it, and the
   * next Ready waits for it.
   */
  #drain(): void {
    const raw = this.#raw;
    while (
      this.#state === 'running' &&
      !this.#installing &&
      raw.inFlight < this.#maxInFlight &&
      raw.hasReady()
    ) {
      if (raw.hasPendingSnapshot()) {
        // It replaces the log and the state: the Readies before it finish first, and no
        // other is taken until it is done.
        this.#installing = true;
        this.#chain(
          this.#pipeline
            .then(() => carryOutReady(raw, this.#readyHandler))
            .then(() => {
              this.#installing = false;
              this.#members.sync();
              this.#schedule();
            }),
        );
        return;
      }
      const { rd, written } = beginOverlappedReady(raw, this.#readyHandler);
      const before = this.#pipeline;
      const durable = written === undefined ? before : Promise.all([before, written]);
      this.#chain(durable.then(() => this.#finish(rd)));
      this.#members.sync();
    }
  }

  #chain(link: Promise<void>): void {
    this.#pipeline = link;
    link.catch((e: unknown) => {
      // A failed write, or a broken invariant (a bug, here or in the core): stop.
      void this.#stop(e instanceof Error ? e : new Error(String(e)));
    });
  }

  /** Steps 4 and 6 of a Ready whose write (and every earlier one's) is durable. */
  #finish(rd: Ready): void {
    if (this.#state !== 'running') return;
    finishOverlappedReady(this.#raw, rd, this.#readyHandler);
    this.#members.sync();
    this.#schedule();
  }

  #persist(rd: Ready): Promise<void> | undefined {
    if (rd.snapshot !== null) return this.#install(rd);
    if (rd.entries.length === 0 && rd.hardState !== null && !rd.mustSync) {
      // Only the commit index moved. Recording it saves replay work after a restart but
      // guards nothing (a restarted node learns the commit from its leader, and storage
      // counts a snapshot's index as committed), so it waits for the next write of entries or
      // the next tick rather than taking a disk write of its own, which the next entries'
      // write would queue behind: one write and one thread-pool trip off every commit.
      this.#deferredCommit = rd.hardState;
      return undefined;
    }
    if (rd.entries.length === 0 && rd.hardState === null) return undefined;
    const saved = this.#storage.save({
      entries: rd.entries,
      hardState: rd.hardState ?? this.#deferredCommit,
      sync: rd.mustSync,
    });
    this.#deferredCommit = null;
    const stages = this.#stages;
    const last = rd.entries.at(-1);
    if (stages === null || last === undefined || this.#leadership.role !== 'leader') return saved;
    stages.sent(last.index);
    return saved.then(() => stages.synced(last.index));
  }

  /** Writes the commit index that no write of entries carried since it moved, if any. */
  #writeDeferredCommit(): Promise<void> | undefined {
    const hardState = this.#deferredCommit;
    if (hardState === null) return undefined;
    this.#deferredCommit = null;
    return this.#storage.save({ entries: [], hardState, sync: false });
  }

  /**
   * A snapshot from the leader replaced the log: its file (which the transfer wrote) becomes
   * the log's start, then the state machine is restored from it, before the Ready's answer
   * leaves and before any entry after it applies.
   */
  async #install(rd: Ready): Promise<void> {
    const meta = rd.snapshot as NonNullable<Ready['snapshot']>;
    const file = this.#storage.snapshotFile?.() ?? null;
    if (file === null || file.meta.index !== meta.index || file.meta.term !== meta.term) {
      throw new AssertionError(
        `a snapshot at ${meta.index} to install, and its file is not the newest`,
      );
    }
    const hardState = rd.hardState ?? this.#deferredCommit;
    this.#deferredCommit = null;
    await this.#storage.save({
      snapshot: file,
      entries: rd.entries,
      hardState,
      sync: true,
    });
    const header = await restoreFrom(this.#storage, this.stateMachine, file);
    this.#logClock.restore(header.logTime);
    if (header.cluster !== null) this.#identity.learn(header.cluster, meta.index);
    this.#proposals.supersede(meta.term);
    this.#applied = meta.index;
    this.#appliedTerm = meta.term;
    this.#snapshots.installed(meta.index);
    this.#emit('snapshot', 'installed', meta.index);
    this.#reads.release(this.#applied);
    this.#members.appliedTo(this.#applied);
    this.#logger.info({ index: meta.index }, `installed the leader's snapshot at ${meta.index}`);
  }

  #onMessage(m: WireMessage): void {
    this.#guard(() => {
      if (m.type === 'forward') this.#proposals.onForward(m);
      else if (m.type === 'forward-refusal') this.#proposals.onRefusal(m);
      else if (m.type === 'snapshot-chunk') this.#transfers.onChunk(m);
      else if (m.type === 'snapshot-ack') this.#transfers.onAck(m);
      else if (m.type === 'member-request') this.#members.onRequest(m);
      else if (m.type === 'member-reply') this.#members.onReply(m);
      else {
        this.#tap?.('received', m);
        if (m.type === 'vote') this.#members.onStranger(m.from, true);
        const error = this.#raw.step(m);
        if (error !== undefined) this.#noteRejected(m.from, error.message);
        else if (this.#stages !== null && m.type === 'append-response') {
          this.#stages.committed(this.#raw.commitIndex);
        }
      }
      this.#schedule();
    });
  }

  #onSoftState(soft: SoftState): void {
    const { roleChanged, leaderChanged } = this.#leadership.observe(soft);
    if (roleChanged) {
      this.#leaderClock =
        soft.role === 'leader' ? new LeaderClock(this.#logClock.time, this.#clock.now()) : null;
      if (soft.role !== 'leader') {
        this.#transfers.stopSending();
        this.#stages?.clear();
      }
      this.#emit('role', soft.role, soft.term);
      if (soft.role === 'leader') this.#callback(() => this.#options.onLeader?.(soft.term));
      if (soft.role === 'follower') {
        this.#callback(() => this.#options.onFollower?.(soft.leader, soft.term));
      }
    }
    if (leaderChanged) this.#emit('leader', soft.leader, soft.term);
  }

  #apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.term > this.#appliedTerm) this.#proposals.supersede(e.term);
      this.#applied = e.index;
      this.#appliedTerm = e.term;
      this.#proposals.displaced(e);
      if (e.kind === 'config') {
        this.#proposals.applied(e, null, { ok: true, value: e.index });
        this.#members.applied(e);
        this.#emit('configuration', e.index, membershipSpec(this.#raw.membershipAt(e.index)));
      }
      if (e.kind !== 'command') continue;
      const identity = clusterIdentityOf(e.data);
      if (identity !== null) {
        this.#identity.learn(identity, e.index);
        continue;
      }
      this.#applyCommand(e);
    }
    const last = entries.at(-1);
    if (last !== undefined) {
      this.#reads.release(this.#applied);
      this.#members.appliedTo(this.#applied);
      this.#identity.proposeIfFirst(this.isLeader, this.#leadership.term, this.#appliedTerm);
      // The state freezes here, between two entries, if a snapshot is due.
      this.#snapshots.applied(entries, last);
    }
  }

  /** Applies one command entry to the state machine and settles its proposal, if ours. */
  #applyCommand(e: Entry): void {
    const command = decodeCommand(e.data);
    if (typeof command === 'string') {
      this.#logger.warn({ index: e.index }, `entry ${e.index} is not a command: ${command}`);
      const error = new InvalidCommandError(e.index, command);
      this.#proposals.applied(e, null, { ok: false, error });
      return;
    }
    const time = this.#logClock.observe(command);
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: this.stateMachine.apply(command.payload, e.index, time) };
    } catch (err) {
      outcome = {
        ok: false,
        error: err instanceof Error ? err : new InvalidCommandError(e.index, String(err)),
      };
    }
    this.#proposals.applied(e, command, outcome);
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  /**
   * An assertion that failed under a user's call is a broken invariant like any other: the
   * node stops with it (as on the tick and message paths), and the call fails with it.
   * Returns the error when it is one, undefined for an ordinary refusal.
   */
  #brokenInvariant(e: unknown): AssertionError | undefined {
    if (!(e instanceof AssertionError)) return undefined;
    // After the caller has failed its own wait with it (stopping fails every wait at once).
    queueMicrotask(() => void this.#stop(e));
    return e;
  }

  /** The log time this leader stamps on the entry it proposes now. */
  #stamp(): number {
    // The node leads (a proposal reaches here only then); its clock was set when it began to.
    const clock = this.#leaderClock ?? new LeaderClock(this.#logClock.time, this.#clock.now());
    this.#leaderClock = clock;
    return clock.stamp(this.#logClock.time, this.#clock.now());
  }

  #checkRunning(): void {
    if (this.#state !== 'running') throw new NodeStoppedError(this.#failure);
  }

  #notLeader(): NotLeaderError {
    const { leader, term } = this.#leadership;
    return new NotLeaderError(leader, term, this.#addressOf(leader));
  }

  #addressOf(id: NodeId | null): string | null {
    if (id === null) return null;
    return this.#members.addressOf(id);
  }

  /** Messages the core refused: counted, and logged at most every ten seconds. */
  #noteRejected(from: NodeId, reason: string): void {
    this.#rejectedMessages++;
    const now = this.#clock.now();
    if (now - this.#lastRejectionLog < 10_000) return;
    this.#lastRejectionLog = now;
    this.#logger.warn({ from, rejected: this.#rejectedMessages }, `message refused: ${reason}`);
  }

  /** Listeners and callbacks are the user's code: a throw there must not stop the node. */
  #emit<K extends keyof NodeEvents>(event: K, ...args: NodeEvents[K]): void {
    this.#callback(() => (this.emit as (e: K, ...a: NodeEvents[K]) => boolean)(event, ...args));
  }

  #callback(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#logger.error({ err: e }, 'a listener threw');
    }
  }
}
