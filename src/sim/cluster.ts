/**
 * @module
 * A cluster of real `RaftNode`s on simulated parts: each node has a disk that outlives it, and
 * lives one after another (a crash ends a life at once; a restart ends it cleanly), each life
 * with its own clock, transport and state machine rebuilt from the log. The cluster watches
 * every node through the invariants and reports a node that stopped on its own.
 */
import type { NodeId } from '../core/index.js';
import { type Clock, type MemberList, RaftNode, type StateMachine } from '../node/index.js';
import { FileStorage } from '../storage/index.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import type { Invariants, LogView } from './invariants.js';
import type { SimNetwork, SimTransport } from './network.js';
import { Observed, ObservedStorage } from './observed.js';
import type { SimRandom } from './random.js';
import { Actor, type EventHandle, type Scheduler } from './scheduler.js';
import type { SimTuning } from './tuning.js';

export type SimNode<S extends StateMachine> = RaftNode<Observed<S>>;

interface Life<S extends StateMachine> {
  readonly number: number;
  readonly actor: Actor;
  readonly clock: SimClock;
  readonly transport: SimTransport;
  node: SimNode<S> | null;
  storage: ObservedStorage | null;
  /** Ended by a crash: whatever it still does is a ghost's. */
  crashed: boolean;
  stopping: boolean;
  /** The life began on an empty disk (a node that joins). */
  startedEmpty?: boolean;
  /** The node has been in the configuration in force on it at some step of this life. */
  wasMember?: boolean;
}

interface Slot<S extends StateMachine> {
  readonly index: number;
  readonly id: NodeId;
  disk: SimDisk;
  /** How many times the disk was replaced by an empty one (`wipe`). */
  generation: number;
  /** Starts with no configuration, to be added by a leader (a spare, or a wiped node). */
  joins: boolean;
  life: Life<S> | null;
  lives: number;
  /** A scheduled start, while the node is down. */
  reboot: EventHandle | null;
  rate: number;
  /** The highest commit index seen in the current life (a new life may start lower). */
  commitFloor: number;
  /** The voters' sets of the last configuration list the node gave (`checkStep`). */
  configSets?: {
    readonly list: MemberList;
    readonly voters: ReadonlySet<NodeId>;
    readonly outgoing: ReadonlySet<NodeId>;
  };
}

export interface ClusterOptions<S extends StateMachine> {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly random: SimRandom;
  readonly invariants: Invariants;
  /** The members the cluster starts with. */
  readonly size: number;
  /** Nodes started empty beside them, to be added later. Default 0. */
  readonly spares?: number;
  readonly createStateMachine: () => S;
  /** A string equal states share (see `Workload.digest`). */
  readonly digest?: (state: S) => string;
  readonly tuning: SimTuning;
}

/** The run's snapshot settings as node options. */
function snapshotOptions(tuning: SimTuning) {
  const s = tuning.snapshots;
  if (s === undefined) return {};
  return {
    snapshotEntries: s.snapshotEntries,
    snapshotKeepEntries: s.snapshotKeepEntries,
    snapshotTransfer: s.transfer,
  };
}

export interface ClusterStats {
  lives: number;
  crashes: number;
  tornTails: number;
  /** Snapshots nodes took of their own state, and leaders' snapshots followers installed. */
  snapshots: number;
  installs: number;
  /** Power cuts that landed in a snapshot step. */
  snapshotCrashes: number;
  /** Membership changes that applied, and those refused or not done in time. */
  memberChanges: number;
  memberRefusals: number;
  /** Changes that went through a joint configuration (and left it). */
  jointChanges: number;
  /** Linearizable reads served under a leader's lease (with `readMode: 'lease'`), in lives ended. */
  leaseReads: number;
}

/** An answer to a client, or null when none came back in time. */
export type Reply<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Error | null };

export class SimCluster<S extends StateMachine> {
  /** Every node's id: the members the cluster started with, then the spares. */
  readonly ids: readonly NodeId[];
  /** The members the cluster started with. */
  readonly members: readonly NodeId[];
  readonly #o: ClusterOptions<S>;
  readonly #slots: Slot<S>[];
  /** Client request latencies. */
  readonly #hops: SimRandom;
  readonly stats: ClusterStats = {
    lives: 0,
    crashes: 0,
    tornTails: 0,
    snapshots: 0,
    installs: 0,
    snapshotCrashes: 0,
    memberChanges: 0,
    memberRefusals: 0,
    jointChanges: 0,
    leaseReads: 0,
  };
  /** A node that stopped by itself (a bug under it, or in it). */
  failure: Error | null = null;

  constructor(options: ClusterOptions<S>) {
    this.#o = options;
    this.#hops = options.random.fork('requests');
    const slots = options.size + (options.spares ?? 0);
    this.ids = Array.from({ length: slots }, (_, i) => `n${i + 1}`);
    this.members = this.ids.slice(0, options.size);
    this.#slots = this.ids.map((id, index) => ({
      index,
      id,
      disk: new SimDisk(options.scheduler, options.random.fork(`disk/${id}`), new Actor(`${id}#0`)),
      generation: 0,
      joins: index >= options.size,
      life: null,
      lives: 0,
      reboot: null,
      rate: 1,
      commitFloor: 0,
    }));
  }

  /** Every node, spares included. */
  get size(): number {
    return this.#slots.length;
  }

  /** Which disk node `id` runs on: a wiped node is another voter than the one it was. */
  incarnation(id: NodeId): string {
    const slot = this.#slots[this.ids.indexOf(id)];
    return slot === undefined || slot.generation === 0 ? id : `${id}/disk${slot.generation}`;
  }

  startAll(): void {
    for (const slot of this.#slots) this.#boot(slot);
  }

  /** Node `i`'s running life's node, or null while it is down, booting or stopping. */
  node(i: number): SimNode<S> | null {
    const life = this.#slots[i]?.life;
    if (life === null || life === undefined || life.stopping || !life.node?.running) return null;
    return life.node;
  }

  isUp(i: number): boolean {
    return this.#slots[i]?.life != null;
  }

  /** The index of the running node that leads in the highest term, or null. */
  leader(): number | null {
    let best: number | null = null;
    let term = -1;
    for (let i = 0; i < this.#slots.length; i++) {
      const n = this.node(i);
      if (n?.isLeader && n.term > term) {
        best = i;
        term = n.term;
      }
    }
    return best;
  }

  indexOf(id: NodeId | null): number | null {
    const i = id === null ? -1 : this.ids.indexOf(id);
    return i < 0 ? null : i;
  }

  // -------------------------------------------------------------------------------------------
  // Lives

  #boot(slot: Slot<S>): void {
    const { scheduler, network, random, invariants } = this.#o;
    slot.reboot = null;
    const number = ++slot.lives;
    this.stats.lives++;
    const actor = new Actor(`${slot.id}#${number}`);
    slot.disk.actor = actor;
    const nodeRandom = random.fork(`node/${slot.id}/${number}`);
    const clock = new SimClock(scheduler, actor, nodeRandom.int(1_000_000_000));
    clock.setRate(slot.rate);
    const life: Life<S> = {
      number,
      actor,
      clock,
      transport: network.transport(slot.id, actor, clock),
      node: null,
      storage: null,
      crashed: false,
      stopping: false,
    };
    slot.life = life;
    // No other life runs on this disk now. One that crashed while it opened its storage may
    // have gone on to take the lock after the crash had cleared it (its open runs on in
    // microtasks past the crash, with no I/O to wait for until the lock): a dead process's
    // lock, which the OS would drop. Without this, the new life could not start (seeds 1354
    // and 396829437, 5 nodes, kept).
    slot.disk.fs.forgetLocks();
    const start = async (): Promise<void> => {
      const file = await FileStorage.open('/data', {
        fs: slot.disk.fs,
        id: slot.id,
        logger: { warn: () => this.stats.tornTails++ },
      });
      if (!actor.alive) return;
      life.startedEmpty = file.lastIndex() === 0 && file.snapshot() === null;
      const digest = this.#o.digest;
      /** The last index this life's state covers: a command applied, or a snapshot restored. */
      let covered = 0;
      /** The state just frozen for a snapshot (its digest), until the snapshot is written. */
      let frozen: { readonly digest: string | null } | null = null;
      const storage = new ObservedStorage(file, {
        written: (term, entries, prevTerm) => {
          if (!life.crashed) invariants.written(slot.id, term, entries, prevTerm);
        },
        snapshotWritten: (meta) => {
          // One this node took carries the state frozen just before; one received, none.
          const took = frozen;
          frozen = null;
          if (life.crashed) return;
          if (took === null) {
            invariants.snapshotReceived(slot.id, meta);
            return;
          }
          this.stats.snapshots++;
          const commit = life.node?.commitIndex ?? 0;
          invariants.snapshotTaken(slot.id, meta, took.digest, commit);
        },
        installed: (term, meta, entries) => {
          if (life.crashed) return;
          this.stats.installs++;
          invariants.installed(slot.id, term, meta, entries);
        },
        compacted: (upTo, durable) => {
          if (!life.crashed) invariants.compacted(slot.id, upTo, durable);
        },
      });
      life.storage = storage;
      const stateMachine = new Observed(this.#o.createStateMachine(), {
        applied: (index, command) => {
          if (life.crashed) return;
          const term = storage.term(index);
          if (term !== undefined) {
            invariants.applied(slot.id, index, term, command, storage.hardState().term, covered);
          }
          covered = index;
        },
        taken: (state) => {
          frozen = { digest: digest?.(state) ?? null };
        },
        restored: (state) => {
          if (life.crashed) return;
          // The one installed, or (at a start) the newest: not the newest now, which may be a
          // later one received while this one was read.
          const meta = storage.installing ?? storage.snapshot();
          storage.installing = null;
          if (meta === null) {
            this.failure ??= new Error(`${slot.id} restored a state with no snapshot stored`);
            return;
          }
          invariants.snapshotRestored(slot.id, meta, digest?.(state) ?? null);
          covered = meta.index;
        },
      });
      const node = new RaftNode({
        id: slot.id,
        members: slot.joins ? [] : this.members,
        join: slot.joins,
        storage,
        transport: life.transport,
        stateMachine,
        clock: life.clock as Clock,
        random: nodeRandom,
        heartbeatMs: this.#o.tuning.heartbeatMs,
        electionMs: this.#o.tuning.electionMs,
        raft: this.#o.tuning.raft,
        ...snapshotOptions(this.#o.tuning),
        ...(this.#o.tuning.readMode === undefined ? {} : { readMode: this.#o.tuning.readMode }),
      });
      node.on('role', (role, term) => {
        if (role === 'leader' && !life.crashed && this.onNextLeader !== null) {
          const armed = this.onNextLeader;
          this.onNextLeader = null;
          armed(slot.index);
        }
        if (role === 'leader' && !life.crashed) invariants.leaderElected(slot.id, term, storage);
      });
      let lastConfiguration = 0;
      node.on('configuration', (index, spec) => {
        if (life.crashed) return;
        // Sorted, so that two nodes' equal configurations print the same.
        const text = JSON.stringify({
          voters: [...spec.voters].sort(),
          learners: [...(spec.learners ?? [])].sort(),
          outgoing: [...(spec.outgoing ?? [])].sort(),
        });
        invariants.configurationApplied(slot.id, index, text, lastConfiguration);
        lastConfiguration = index;
      });
      node.on('stopped', (reason) => {
        if (reason !== null && !life.crashed) {
          this.failure ??= new Error(`${slot.id} stopped by itself: ${reason.message}`);
        }
      });
      node.on('removed', (index) => {
        if (!life.crashed) this.#checkRemoved(slot, index);
      });
      life.node = node;
      await node.start();
      if (!life.crashed) this.#watchCommit(slot);
    };
    start().catch((e: unknown) => {
      if (!life.crashed) this.failure ??= new Error(`${slot.id} failed to start: ${String(e)}`);
    });
  }

  /**
   * Called once, as the next node wins an election, before anything it sends as leader
   * leaves (the node reports its new role before it sends the first messages of that role).
   */
  onNextLeader: ((i: number) => void) | null = null;

  /** Reads served under a lease so far: by the lives that ended and the running ones. */
  leaseReadsServed(): number {
    let n = this.stats.leaseReads;
    for (const slot of this.#slots) n += slot.life?.node?.readCounts().lease ?? 0;
    return n;
  }

  /** Power loss on node `i`: its life ends now, and its disk keeps only what was synced. */
  crash(i: number, downMs: number): boolean {
    const slot = this.#slots[i];
    const life = slot?.life;
    if (slot === undefined || life == null) return false;
    life.crashed = true;
    this.stats.leaseReads += life.node?.readCounts().lease ?? 0;
    this.#o.scheduler.kill(life.actor);
    void life.transport.close();
    slot.life = null;
    slot.disk.fs.crash(this.#o.random.fork(`crash/${slot.id}/${life.number}`));
    slot.commitFloor = 0;
    this.stats.crashes++;
    this.#scheduleBoot(slot, downMs);
    return true;
  }

  /**
   * Node `i` loses its disk: it is crashed, and starts again `downMs` later on an empty one,
   * to join the cluster when a leader adds it (a dead machine's replacement at its address).
   */
  wipe(i: number, downMs: number): boolean {
    const slot = this.#slots[i];
    if (slot === undefined) return false;
    if (slot.life !== null) this.crash(i, downMs);
    else if (slot.reboot === null) this.#scheduleBoot(slot, downMs);
    slot.generation++;
    slot.joins = true;
    const actor = new Actor(`${slot.id}#wiped${slot.generation}`);
    slot.disk = new SimDisk(
      this.#o.scheduler,
      this.#o.random.fork(`disk/${slot.id}/${slot.generation}`),
      actor,
    );
    return true;
  }

  /** A clean stop of node `i`, and a start `downMs` later. */
  restart(i: number, downMs: number): boolean {
    const slot = this.#slots[i];
    const life = slot?.life;
    if (slot === undefined || life == null || life.node === null || life.stopping) return false;
    if (life.actor.paused) return false;
    life.stopping = true;
    life.node.stop().then(
      () => {
        if (life.crashed) return;
        this.#o.scheduler.kill(life.actor);
        slot.life = null;
        // The commit index is written behind the apply: the next life may start from an older one.
        slot.commitFloor = 0;
        this.#scheduleBoot(slot, downMs);
      },
      () => {},
    );
    return true;
  }

  #scheduleBoot(slot: Slot<S>, downMs: number): void {
    slot.reboot = this.#o.scheduler.after(downMs, null, () => {
      if (slot.life === null) this.#boot(slot);
    });
  }

  pause(i: number, ms: number): boolean {
    const life = this.#slots[i]?.life;
    if (life == null || life.actor.paused) return false;
    this.#o.scheduler.pause(life.actor);
    this.#o.scheduler.after(ms, null, () => this.#o.scheduler.resume(life.actor));
    return true;
  }

  /** Power loss on node `i` in the middle of its next fsync (a vote, an append, a commit). */
  crashDuringSync(i: number, downMs: number): boolean {
    const slot = this.#slots[i];
    const life = slot?.life;
    if (slot === undefined || life == null) return false;
    slot.disk.onSync = () => {
      if (slot.life === life) this.crash(i, downMs);
    };
    return true;
  }

  /** Power loss on node `i` while it writes the next vote it grants (or casts for itself). */
  crashDuringVote(i: number, downMs: number): boolean {
    const slot = this.#slots[i];
    const life = slot?.life;
    if (slot === undefined || life?.storage == null) return false;
    life.storage.onVote = () => {
      if (slot.life === life) this.crash(i, downMs);
    };
    return true;
  }

  /**
   * Power loss on node `i` during its next snapshot step (writing, compacting, installing), as
   * the step's `step`-th fsync or directory change starts (0: the first).
   */
  crashDuringSnapshot(i: number, step: number, downMs: number): boolean {
    const slot = this.#slots[i];
    const life = slot?.life;
    if (slot === undefined || life?.storage == null) return false;
    life.storage.onSnapshotStep = () => {
      slot.disk.onStep = {
        skip: step,
        crash: () => {
          if (slot.life === life && this.crash(i, downMs)) this.stats.snapshotCrashes++;
        },
      };
    };
    return true;
  }

  slowDisk(i: number, ms: number): void {
    const slot = this.#slots[i];
    if (slot !== undefined)
      slot.disk.slowUntil = Math.max(slot.disk.slowUntil, this.#o.scheduler.now + ms);
  }

  drift(i: number, rate: number): void {
    const slot = this.#slots[i];
    if (slot === undefined) return;
    slot.rate = rate;
    slot.life?.clock.setRate(rate);
  }

  /** Every node up and running, none paused, disks fast. Clock rates stay. */
  heal(): void {
    for (const slot of this.#slots) {
      slot.disk.slowUntil = 0;
      slot.disk.onSync = null;
      slot.disk.onStep = null;
      if (slot.life?.storage != null) {
        slot.life.storage.onVote = null;
        slot.life.storage.onSnapshotStep = null;
      }
      if (slot.life !== null) this.#o.scheduler.resume(slot.life.actor);
      else if (slot.reboot !== null) {
        slot.reboot.cancel();
        this.#boot(slot);
      }
    }
  }

  /** The checks on the cluster as a whole, after every event. */
  checkStep(): void {
    const logs: LogView[] = [];
    for (const slot of this.#slots) {
      this.#watchCommit(slot);
      const storage = slot.life?.storage;
      if (storage == null || slot.life?.node?.running !== true) continue;
      const lastIndex = storage.lastIndex();
      const snapshot = storage.snapshot();
      const term = (index: number) =>
        index === snapshot?.index ? snapshot.term : storage.term(index);
      const config = slot.life.node.members();
      // The node hands out the same list while its configuration stands: so are the sets.
      if (slot.configSets?.list !== config) {
        slot.configSets = {
          list: config,
          voters: new Set(config.voters.map((v) => v.id)),
          outgoing: new Set(config.outgoing.map((v) => v.id)),
        };
      }
      if (slot.life.wasMember !== true) {
        const own = (v: { id: string }) => v.id === slot.id;
        slot.life.wasMember = config.voters.some(own) || config.learners.some(own);
      }
      logs.push({
        id: slot.id,
        lastIndex,
        lastTerm: term(lastIndex) ?? 0,
        snapshotIndex: snapshot?.index ?? 0,
        term,
        voters: slot.configSets.voters,
        outgoing: slot.configSets.outgoing,
      });
    }
    this.#o.invariants.checkElectable(logs);
  }

  /**
   * `slot`'s node says the configuration at `index` removed it (`raftkit node` then stops
   * itself). A node that started empty and has not been a member since (one that joins)
   * cannot have been removed: no running node may hold a later committed configuration that
   * has it.
   *
   * (A member removed and added again under its id with its old log, as the `joint` churn
   * does, may say so while it catches up through the configuration that removed it: the
   * command line has such a node start on an empty directory; that case is not checked.)
   */
  #checkRemoved(slot: Slot<S>, index: number): void {
    if (slot.life?.startedEmpty !== true || slot.life.wasMember === true) return;
    for (const other of this.#slots) {
      const node = other.life?.node;
      if (other === slot || node == null || !node.running) continue;
      const m = node.members();
      if (m.index <= index || m.index > node.commitIndex) continue;
      if ([...m.voters, ...m.learners, ...m.outgoing].some((v) => v.id === slot.id)) {
        this.failure ??= new Error(
          `${slot.id} says the configuration at ${index} removed it, but ${other.id} has it in the committed configuration at ${m.index}`,
        );
        return;
      }
    }
  }

  #watchCommit(slot: Slot<S>): void {
    const node = slot.life?.node;
    if (node == null || !node.running) return;
    const commit = node.commitIndex;
    this.#o.invariants.commitMoved(slot.id, slot.commitFloor, commit);
    if (commit > slot.commitFloor) slot.commitFloor = commit;
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  /**
   * A client's request to node `i`: it travels there (lost if the node is down), `fn` runs on
   * the node, and the answer travels back, unless the node's life ends first. Resolves as the
   * client, with the answer or, after `timeoutMs`, with none.
   */
  request<T>(
    client: Actor,
    i: number,
    fn: (node: SimNode<S>) => Promise<T>,
    timeoutMs: number,
  ): Promise<Reply<T>> {
    const scheduler = this.#o.scheduler;
    const random = this.#hops;
    return new Promise((resolve) => {
      let done = false;
      const finish = (reply: Reply<T>): void => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(reply);
      };
      const timer = scheduler.after(timeoutMs, client, () => finish({ ok: false, error: null }));
      const life = this.#slots[i]?.life;
      if (life == null) return;
      const hop = (): number => 0.1 + random.float() * 0.9;
      scheduler.after(hop(), life.actor, () => {
        const node = this.#slots[i]?.life === life ? life.node : null;
        if (node === null || !node.running || life.stopping) {
          // A refused connection comes back at once.
          scheduler.after(hop(), client, () =>
            finish({ ok: false, error: new Error('connection refused') }),
          );
          return;
        }
        fn(node).then(
          (value) => {
            if (!life.crashed) scheduler.after(hop(), client, () => finish({ ok: true, value }));
          },
          (error: unknown) => {
            if (life.crashed) return;
            const e = error instanceof Error ? error : new Error(String(error));
            scheduler.after(hop(), client, () => finish({ ok: false, error: e }));
          },
        );
      });
    });
  }
}
