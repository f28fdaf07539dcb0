/**
 * @module
 * `RaftNode`: one member of a cluster, running. It drives the core with an injected clock,
 * storage and transport, in the order that keeps data safe (DESIGN.md):
 *
 * 1. send what may leave at once (the leader's appends: it replicates while its own fsync runs);
 * 2. persist the Ready's entries and hard state (`save` resolves once durable);
 * 3. only then send votes and acknowledgements, which promise that persistence;
 * 4. apply committed entries in order, once each, and settle the proposals they answer.
 *
 * One Ready is carried out at a time; whatever arrives meanwhile is stepped into the core and
 * goes out with the next, so one fsync serves every proposal made during the previous one.
 */
import { EventEmitter } from 'node:events';
import {
  AssertionError,
  type Entry,
  type NodeId,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  type ProposalDropReason,
  type Random,
  RawNode,
  type ReadState,
  type Role,
  type SoftState,
} from '../core/index.js';
import type { DurableStorage } from '../storage/index.js';
import {
  type ForwardProposal,
  type ForwardRefusal,
  MESSAGE_OVERHEAD_BYTES,
  type Transport,
  type TransportStats,
  type WireMessage,
} from '../transport/index.js';
import type { Clock, Timer } from './clock.js';
import {
  clusterIdentityOf,
  decodeCommand,
  encodeClusterIdentity,
  encodeStamped,
  encodeTagged,
  LeaderClock,
  LogClock,
  stamp,
} from './command.js';
import { InvalidCommandError, NodeStoppedError } from './errors.js';
import {
  checkNodeOptions,
  maxCommandBytes,
  type NodeLogger,
  type RaftNodeOptions,
  resolveTiming,
  silentLogger,
} from './options.js';
import type { StateMachine } from './state-machine.js';
import { systemClock, systemRandom } from './system-clock.js';
import { Waiter } from './waiter.js';

export interface NodeEvents {
  /** This node's role changed. */
  role: [role: Role, term: number];
  /** The leader this node knows changed (null: none known). */
  leader: [leader: NodeId | null, term: number];
  /** The node stopped; `reason` is the error that stopped it, or null for `stop()`. */
  stopped: [reason: Error | null];
}

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
  readonly lastIndex: number;
  readonly members: readonly NodeId[];
  /** The identity the cluster drew when it first formed; null until this node learns it. */
  readonly cluster: string | null;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

interface LocalProposal {
  readonly term: number;
  readonly waiter: Waiter<unknown>;
}

export class RaftNode<S extends StateMachine = StateMachine> extends EventEmitter<NodeEvents> {
  readonly id: NodeId;
  readonly stateMachine: S;
  readonly members: readonly NodeId[];
  readonly #raw: RawNode;
  readonly #storage: DurableStorage;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #logger: NodeLogger;
  readonly #options: RaftNodeOptions<S>;
  readonly #tickMs: number;
  readonly #maxCommandBytes: number;
  /** Random per start: tells this life's forwarded requests and reads from a previous life's. */
  readonly #incarnation: number;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #stopping: Promise<void> | null = null;
  #failure: Error | null = null;
  #tickTimer: Timer | null = null;
  #scheduled = false;
  #loop: Promise<void> | null = null;
  #role: Role = 'follower';
  #leader: NodeId | null = null;
  #term = 0;
  /** Index and term of the last entry applied; a higher term supersedes older proposals. */
  #applied = 0;
  #appliedTerm = 0;
  /** The log's time as of the last entry applied (see `command.ts`). */
  readonly #logClock = new LogClock();
  /** This node's stamps while it leads; null otherwise. */
  #leaderClock: LeaderClock | null = null;
  readonly #random: Random;
  /** The identity the cluster drew when it first formed; null until this node learns it. */
  #cluster: string | null;
  /** The term in which this node, leading, proposed the cluster's identity. */
  #identityProposedIn = 0;
  /** The leader's own proposals, by the index of their entry. */
  readonly #byIndex = new Map<number, LocalProposal>();
  /** Proposals this node forwarded to the leader, by request number, with the leader's term. */
  readonly #byRequest = new Map<number, LocalProposal>();
  #nextRequest = 0;
  /** Linearizable reads waiting for their read index, by context. */
  readonly #reads = new Map<string, Waiter<number>>();
  /** Reads that have their index and wait for the state machine to reach it. */
  readonly #readsAwaitingApply = new Map<Waiter<number>, number>();
  #nextRead = 0;
  readonly #leaderWaiters = new Map<Waiter<NodeId>, NodeId | undefined>();
  /** Waits for the next soft state with a leader, whether or not the leader changed. */
  readonly #nextLeaderWaiters = new Set<Waiter<NodeId>>();
  #rejectedMessages = 0;
  #lastRejectionLog = Number.NEGATIVE_INFINITY;

  constructor(options: RaftNodeOptions<S>) {
    super();
    checkNodeOptions(options);
    const timing = resolveTiming(options);
    const random = options.random ?? systemRandom();
    this.id = options.id;
    this.members = [...options.members];
    this.stateMachine = options.stateMachine;
    this.#options = options;
    this.#storage = options.storage;
    this.#transport = options.transport;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#tickMs = timing.tickMs;
    this.#maxCommandBytes = maxCommandBytes(options.transport);
    this.#incarnation = random.int(2 ** 32);
    this.#random = random;
    // A cluster's identity, once known, goes on every frame: peers of another are refused.
    this.#cluster = options.storage.clusterIdentity?.() ?? null;
    if (this.#cluster !== null) options.transport.bindCluster?.(this.#cluster);
    const budget = options.transport.maxMessageBytes - MESSAGE_OVERHEAD_BYTES;
    this.#raw = new RawNode({
      ...options.raft,
      id: options.id,
      storage: options.storage,
      membership: { voters: [...options.members] },
      random,
      electionTicks: timing.electionTicks,
      heartbeatTicks: timing.heartbeatTicks,
      // Several entries travel in one message only while they fit the transport.
      maxAppendBytes: Math.min(options.raft?.maxAppendBytes ?? 1024 * 1024, budget),
    });
    const status = this.#raw.status();
    this.#term = status.term;
    this.#applied = status.appliedIndex;
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
      await this.#transport.start((m) => this.#onMessage(m));
    } catch (e) {
      await this.#stop(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    this.#armTick();
    this.#schedule();
    this.#logger.info({ id: this.id, members: this.members }, 'node started');
  }

  // -------------------------------------------------------------------------------------------
  // Who leads

  /** The leader this node knows, or null. */
  get leader(): NodeId | null {
    return this.#leader;
  }

  getLeader(): NodeId | null {
    return this.#leader;
  }

  get role(): Role {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get isLeader(): boolean {
    return this.#role === 'leader';
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
    const what = id === undefined ? 'waiting for a leader' : `waiting for ${id} to lead`;
    // Without a timeout it waits as long as it takes, as raftos's wait_until_leader does.
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const waiter = this.#waiter<NodeId>(what, timeoutMs, options.signal, () =>
      this.#leaderWaiters.delete(waiter),
    );
    if (this.#leader !== null && (id === undefined || id === this.#leader)) {
      waiter.resolve(this.#leader);
    } else if (!waiter.settled) {
      this.#leaderWaiters.set(waiter, id);
    }
    return waiter.promise;
  }

  /** Hands leadership to `to`; resolves once this node knows `to` leads. */
  async transferLeadership(to: NodeId, options: WaitOptions = {}): Promise<void> {
    this.#checkRunning();
    try {
      this.#raw.transferLeader(to);
    } catch (e) {
      throw this.#brokenInvariant(e) ?? e;
    }
    this.#schedule();
    await this.waitUntilLeader(to, options);
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
      lastIndex: s.lastIndex,
      members: this.members,
      cluster: this.#cluster,
    };
  }

  /**
   * The identity this node's cluster drew when it first formed, or null until this node has
   * applied the entry that names it (its first leader writes it once its first entry commits).
   */
  get clusterIdentity(): string | null {
    return this.#cluster;
  }

  /** The log's time as of the last entry applied, in milliseconds (see `command.ts`). */
  get logTime(): number {
    return this.#logClock.time;
  }

  transportStats(): TransportStats {
    return this.#transport.stats();
  }

  // -------------------------------------------------------------------------------------------
  // Writes

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
    return this.#withLeader(timeoutMs, options.signal, forwarding, (remaining) =>
      this.#role === 'leader'
        ? this.#proposeHere(command, remaining, options.signal)
        : this.#forward(command, remaining, options.signal),
    );
  }

  /**
   * Runs `attempt` once a leader is known, within `timeoutMs`. A NotLeaderError with no leader
   * means nothing was proposed (or read) anywhere, so it is safe to wait for the next leader
   * and try again; during an election a caller waits rather than fails.
   */
  async #withLeader<T>(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    wait: boolean,
    attempt: (remainingMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      const remaining = Math.max(1, deadline - this.#clock.now());
      if (wait && this.#leader === null) {
        await this.waitUntilLeader(undefined, { timeoutMs: remaining, signal });
        continue;
      }
      try {
        return await attempt(remaining);
      } catch (e) {
        const retry = wait && e instanceof NotLeaderError && e.leader === null;
        if (!retry || this.#clock.now() >= deadline) throw e;
        // The core knows no leader, though this node may not have handled the Ready that says
        // so (its loop can be waiting for a save). Retrying at once would spin in microtasks,
        // and the event loop, with the save, would never turn: wait for the next leader.
        await this.#nextLeader(Math.max(1, deadline - this.#clock.now()), signal);
      }
    }
  }

  /** Resolves when the next soft state this node handles names a leader. */
  #nextLeader(timeoutMs: number, signal: AbortSignal | undefined): Promise<NodeId> {
    const waiter = this.#waiter<NodeId>('waiting for a leader', timeoutMs, signal, () =>
      this.#nextLeaderWaiters.delete(waiter),
    );
    if (!waiter.settled) this.#nextLeaderWaiters.add(waiter);
    return waiter.promise;
  }

  #proposeHere(command: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    let index = 0;
    const waiter = this.#waiter<unknown>('proposal', timeoutMs, signal, () =>
      this.#byIndex.delete(index),
    );
    if (waiter.settled) return waiter.promise;
    try {
      const position = this.#raw.propose([encodeStamped(command, this.#stamp())]);
      index = position.lastIndex;
      this.#byIndex.set(index, { term: position.term, waiter });
      this.#schedule();
    } catch (e) {
      waiter.reject(this.#brokenInvariant(e) ?? (e as Error));
    }
    return waiter.promise;
  }

  #forward(command: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const leader = this.#leader;
    if (leader === null || this.#options.forwardProposals === false) {
      return Promise.reject(this.#notLeader());
    }
    const request = ++this.#nextRequest;
    const waiter = this.#waiter<unknown>('forwarded proposal', timeoutMs, signal, () =>
      this.#byRequest.delete(request),
    );
    if (waiter.settled) return waiter.promise;
    const term = this.#term;
    this.#byRequest.set(request, { term, waiter });
    const data = encodeTagged(command, this.id, this.#incarnation, request);
    this.#transport.send({
      type: 'forward',
      from: this.id,
      to: leader,
      id: request,
      term,
      commands: [data],
    });
    return waiter.promise;
  }

  // -------------------------------------------------------------------------------------------
  // Reads

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
    return this.#withLeader(timeoutMs, options.signal, true, (remaining) =>
      this.#readIndex(remaining, options.signal),
    );
  }

  #readIndex(timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
    // The incarnation keeps a late answer to a previous life's read from matching this one's.
    const context = `${this.#incarnation.toString(36)}.${(++this.#nextRead).toString(36)}`;
    const waiter = this.#waiter<number>('linearizable read', timeoutMs, signal, () =>
      this.#reads.delete(context),
    );
    if (waiter.settled) return waiter.promise;
    try {
      this.#checkRunning();
      this.#raw.readIndex(context);
      this.#reads.set(context, waiter);
      this.#schedule();
    } catch (e) {
      const broken = this.#brokenInvariant(e);
      waiter.reject(broken ?? (e instanceof NotLeaderError ? this.#notLeader() : (e as Error)));
    }
    return waiter.promise;
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
      const error = new NodeStoppedError(reason);
      for (const { waiter } of [...this.#byIndex.values()]) waiter.reject(error);
      for (const { waiter } of [...this.#byRequest.values()]) waiter.reject(error);
      for (const w of [...this.#reads.values()]) w.reject(error);
      for (const w of [...this.#readsAwaitingApply.keys()]) w.reject(error);
      for (const w of [...this.#leaderWaiters.keys()]) w.reject(error);
      for (const w of [...this.#nextLeaderWaiters]) w.reject(error);
      await this.#loop;
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
        this.#expire();
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
    queueMicrotask(() => {
      this.#scheduled = false;
      if (this.#loop !== null || this.#state !== 'running') return;
      this.#loop = this.#drain()
        .catch((e: unknown) => {
          // A broken invariant (a bug, here or in the core): stop rather than run on wrong.
          void this.#stop(e instanceof Error ? e : new Error(String(e)));
        })
        .finally(() => {
          this.#loop = null;
          if (this.#state === 'running' && this.#raw.hasReady()) this.#schedule();
        });
    });
  }

  async #drain(): Promise<void> {
    while (this.#state === 'running' && this.#raw.hasReady()) {
      const rd = this.#raw.ready();
      if (rd.softState !== null) this.#onSoftState(rd.softState);
      this.#sendAll(rd.messages);
      if (rd.entries.length === 0 && rd.hardState !== null && !rd.mustSync) {
        // Only the commit index moved. Recording it saves replay work after a restart but
        // guards nothing (a restarted node learns the commit from its leader), so it is
        // written behind the apply rather than before it: one disk write off every commit.
        this.#storage
          .save({ entries: [], hardState: rd.hardState, sync: false })
          .catch((e: unknown) => {
            void this.#stop(e instanceof Error ? e : new Error(String(e)));
          });
      } else if (rd.entries.length > 0 || rd.hardState !== null) {
        try {
          await this.#storage.save({
            entries: rd.entries,
            hardState: rd.hardState,
            sync: rd.mustSync,
          });
        } catch (e) {
          void this.#stop(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        if (this.#state !== 'running') return;
      }
      this.#sendAll(rd.messagesAfterPersist);
      this.#apply(rd.committedEntries);
      this.#onReads(rd.readStates, rd.droppedReads);
      this.#raw.advance();
    }
  }

  #sendAll(messages: readonly WireMessage[]): void {
    for (const m of messages) this.#transport.send(m);
  }

  #onMessage(m: WireMessage): void {
    this.#guard(() => {
      if (m.type === 'forward') this.#onForward(m);
      else if (m.type === 'forward-refusal') this.#onRefusal(m);
      else {
        const error = this.#raw.step(m);
        if (error !== undefined) this.#noteRejected(m.from, error.message);
      }
      this.#schedule();
    });
  }

  /** The leader takes a follower's forwarded commands, or says why not. */
  #onForward(m: ForwardProposal): void {
    try {
      if (m.term !== this.#raw.term) {
        // Taken in another term than the follower's, it could apply after the follower has
        // judged it superseded (see `#supersede`).
        throw new ProposalDroppedError(
          'superseded',
          `forwarded to the leader of term ${m.term}; this node is in term ${this.#raw.term}`,
        );
      }
      for (const c of m.commands) {
        const command = decodeCommand(c);
        if (typeof command === 'string' || command.origin !== m.from || command.time !== null) {
          throw new ProposalDroppedError(
            'invalid',
            'a forwarded command must carry its origin, and no time (the leader stamps it)',
          );
        }
        if (command.payload.byteLength > this.#maxCommandBytes) {
          throw new ProposalDroppedError('too-large', `${command.payload.byteLength}-byte command`);
        }
      }
      const time = this.#stamp();
      this.#raw.propose(m.commands.map((c) => stamp(c, time)));
    } catch (e) {
      // Anything but a refusal (a broken invariant above all) is thrown on: it stops the node.
      const refusal = this.#refusal(e, m);
      if (refusal === null) throw e;
      this.#transport.send(refusal);
    }
  }

  /** The refusal that tells a follower why its forwarded proposal was not taken. */
  #refusal(e: unknown, m: ForwardProposal): ForwardRefusal | null {
    const base = {
      type: 'forward-refusal',
      from: this.id,
      to: m.from,
      id: m.id,
      leader: this.#leader,
      term: this.#term,
    } as const;
    if (e instanceof NotLeaderError) {
      return { ...base, code: 'RAFT_NOT_LEADER', reason: null, limit: null, detail: e.message };
    }
    if (e instanceof ProposalDroppedError) {
      return {
        ...base,
        code: 'RAFT_PROPOSAL_DROPPED',
        reason: e.reason,
        limit: null,
        detail: e.detail,
      };
    }
    if (e instanceof OverloadedError) {
      return { ...base, code: 'RAFT_OVERLOADED', reason: null, limit: e.limit, detail: e.detail };
    }
    return null;
  }

  #onRefusal(m: ForwardRefusal): void {
    this.#byRequest.get(m.id)?.waiter.reject(this.#remoteError(m));
  }

  /** The typed error a leader's refusal stands for, rebuilt from its fields. */
  #remoteError(m: ForwardRefusal): Error {
    const detail = `refused by ${m.from}: ${m.detail}`;
    switch (m.code) {
      case 'RAFT_NOT_LEADER':
        return new NotLeaderError(m.leader, m.term, this.#addressOf(m.leader));
      case 'RAFT_OVERLOADED':
        return new OverloadedError(m.limit as string, detail);
      case 'RAFT_PROPOSAL_DROPPED':
        return new ProposalDroppedError(m.reason as ProposalDropReason, detail);
    }
  }

  #onSoftState(soft: SoftState): void {
    const roleChanged = soft.role !== this.#role;
    const leaderChanged = soft.leader !== this.#leader;
    this.#role = soft.role;
    this.#leader = soft.leader;
    this.#term = soft.term;
    if (roleChanged) {
      this.#leaderClock =
        soft.role === 'leader' ? new LeaderClock(this.#logClock.time, this.#clock.now()) : null;
      this.#emit('role', soft.role, soft.term);
      if (soft.role === 'leader') this.#callback(() => this.#options.onLeader?.(soft.term));
      if (soft.role === 'follower') {
        this.#callback(() => this.#options.onFollower?.(soft.leader, soft.term));
      }
    }
    if (soft.leader !== null) {
      for (const waiter of [...this.#nextLeaderWaiters]) waiter.resolve(soft.leader);
    }
    if (leaderChanged) {
      this.#emit('leader', soft.leader, soft.term);
      if (soft.leader !== null) {
        for (const [waiter, id] of [...this.#leaderWaiters]) {
          if (id === undefined || id === soft.leader) waiter.resolve(soft.leader);
        }
      }
    }
  }

  #apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.term > this.#appliedTerm) this.#supersede(e.term);
      this.#applied = e.index;
      this.#appliedTerm = e.term;
      const local = this.#byIndex.get(e.index);
      if (local !== undefined && local.term !== e.term) {
        local.waiter.reject(
          new ProposalDroppedError('superseded', `entry ${e.index} is another leader's`),
        );
      }
      if (e.kind === 'noop') continue;
      const identity = clusterIdentityOf(e.data);
      if (identity !== null) {
        this.#learnCluster(identity, e.index);
        continue;
      }
      const command = decodeCommand(e.data);
      let outcome: Outcome;
      if (typeof command === 'string') {
        outcome = { ok: false, error: new InvalidCommandError(e.index, command) };
        this.#logger.warn({ index: e.index }, `entry ${e.index} is not a command: ${command}`);
      } else {
        const time = this.#logClock.observe(command);
        try {
          outcome = { ok: true, value: this.stateMachine.apply(command.payload, e.index, time) };
        } catch (err) {
          outcome = {
            ok: false,
            error: err instanceof Error ? err : new InvalidCommandError(e.index, String(err)),
          };
        }
      }
      if (local !== undefined && local.term === e.term) settle(local.waiter, outcome);
      if (
        typeof command !== 'string' &&
        command.origin === this.id &&
        command.incarnation === this.#incarnation
      ) {
        const forwarded = this.#byRequest.get(command.request);
        if (forwarded !== undefined) settle(forwarded.waiter, outcome);
      }
    }
    if (entries.length > 0) {
      this.#releaseReads(this.#applied);
      this.#proposeClusterIdentity();
    }
  }

  /**
   * A cluster gets its identity when it first forms: its first leader, once an entry of its
   * own term has applied (so every committed entry has, and an identity among them would be
   * known), draws one and writes it in the log. If that entry is lost with its leader, the
   * next leader does the same; once one commits, every later leader has applied it first.
   */
  #proposeClusterIdentity(): void {
    if (this.#cluster !== null || this.#role !== 'leader') return;
    if (this.#appliedTerm !== this.#term || this.#identityProposedIn === this.#term) return;
    this.#identityProposedIn = this.#term;
    const hex = () =>
      this.#random
        .int(2 ** 32)
        .toString(16)
        .padStart(8, '0');
    try {
      this.#raw.propose([encodeClusterIdentity(`${hex()}${hex()}`)]);
      this.#schedule();
    } catch (e) {
      // Refused for now (overloaded, a transfer under way): again after the next apply.
      // Stepped down: the next leader writes it. Anything else is a broken invariant.
      if (e instanceof OverloadedError || e instanceof ProposalDroppedError) {
        this.#identityProposedIn = 0;
      } else if (!(e instanceof NotLeaderError)) {
        throw e;
      }
    }
  }

  /** The log names the cluster's identity: from now on, frames carry it. */
  #learnCluster(identity: string, index: number): void {
    if (this.#cluster === identity) return;
    if (this.#cluster !== null) {
      // Only the first applied identity counts; `#proposeClusterIdentity` writes no second.
      this.#logger.warn(
        { index, identity, cluster: this.#cluster },
        `entry ${index} names another cluster identity than the one recorded; kept ${this.#cluster}`,
      );
      return;
    }
    this.#cluster = identity;
    this.#transport.bindCluster?.(identity);
    this.#storage.bindCluster?.(identity).catch((e: unknown) => {
      void this.#stop(e instanceof Error ? e : new Error(String(e)));
    });
    this.#logger.info({ cluster: identity, index }, `cluster identity ${identity}`);
  }

  /**
   * An entry of `term` is being applied: every older-term proposal of this node not yet applied
   * lies at a later index, where terms can only be higher. None of them will ever apply. The
   * same holds for a forwarded proposal: a leader takes one only in the term it was sent for.
   * So a follower whose leader vanished learns it once the next leader's first entry applies,
   * not when its request times out.
   */
  #supersede(term: number): void {
    for (const [index, p] of [...this.#byIndex]) {
      if (p.term < term) {
        p.waiter.reject(
          new ProposalDroppedError('superseded', `entry ${index} was replaced in term ${term}`),
        );
      }
    }
    for (const [request, p] of [...this.#byRequest]) {
      if (p.term < term) {
        p.waiter.reject(
          new ProposalDroppedError(
            'superseded',
            `forwarded request ${request} of term ${p.term} was not taken before term ${term}`,
          ),
        );
      }
    }
  }

  #onReads(states: readonly ReadState[], dropped: readonly string[]): void {
    const applied = this.#applied;
    for (const { context, index } of states) {
      const waiter = this.#reads.get(context);
      if (waiter === undefined) continue;
      this.#reads.delete(context);
      if (index <= applied) {
        waiter.resolve(applied);
        continue;
      }
      waiter.refile(() => this.#readsAwaitingApply.delete(waiter));
      this.#readsAwaitingApply.set(waiter, index);
    }
    // Leadership changed under the read: no read index will come. It was a read, so it is safe
    // to ask again (`#withLeader` does, once a leader is known).
    for (const context of dropped) {
      this.#reads.get(context)?.reject(new NotLeaderError(null, this.#term));
    }
  }

  #releaseReads(applied: number): void {
    for (const [waiter, index] of [...this.#readsAwaitingApply]) {
      if (index <= applied) waiter.resolve(applied);
    }
  }

  /** Fails every wait whose deadline has passed; runs on each tick. */
  #expire(): void {
    const now = this.#clock.now();
    for (const { waiter } of [...this.#byIndex.values()]) waiter.expire(now);
    for (const { waiter } of [...this.#byRequest.values()]) waiter.expire(now);
    for (const w of [...this.#reads.values()]) w.expire(now);
    for (const w of [...this.#readsAwaitingApply.keys()]) w.expire(now);
    for (const w of [...this.#leaderWaiters.keys()]) w.expire(now);
    for (const w of [...this.#nextLeaderWaiters]) w.expire(now);
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  #waiter<T>(
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    forget: () => void,
  ): Waiter<T> {
    return new Waiter<T>(what, this.#clock.now(), timeoutMs, signal, forget);
  }

  /**
   * An assertion that failed under a user's call is a broken invariant like any other: the
   * node stops with it (as on the tick and message paths), and the call fails with it.
   * Returns the error when it is one, undefined for an ordinary refusal.
   */
  #brokenInvariant(e: unknown): AssertionError | undefined {
    if (!(e instanceof AssertionError)) return undefined;
    void this.#stop(e);
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
    return new NotLeaderError(this.#leader, this.#term, this.#addressOf(this.#leader));
  }

  #addressOf(id: NodeId | null): string | null {
    if (id === null) return null;
    return this.#options.addresses?.[id] ?? id;
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

function settle(waiter: Waiter<unknown>, outcome: Outcome): void {
  if (outcome.ok) waiter.resolve(outcome.value);
  else waiter.reject(outcome.error);
}
