/**
 * A deterministic in-memory network of cores for tests. Every Ready is carried out in the
 * documented order: leader messages out, entries and hard state into the node's MemoryStorage,
 * then the messages that needed them, then committed entries into the node's applied list.
 */
import {
  carryOutReady,
  describeMessage,
  type Entry,
  type HardState,
  type MemberChange,
  MemoryStorage,
  type Message,
  type NodeId,
  type RaftOptions,
  RawNode,
  type ReadState,
  type SnapshotMeta,
  type SoftState,
  seededRandom,
  unknownMembership,
} from '../../src/core/index.js';

export type NodeOptions = Partial<Omit<RaftOptions, 'id' | 'storage'>>;

export interface TestNode {
  readonly id: NodeId;
  raw: RawNode;
  readonly storage: MemoryStorage;
  /** Entries applied since the node last started, by index. */
  applied: Entry[];
  readStates: ReadState[];
  droppedReads: string[];
  softStates: SoftState[];
  /** Snapshots this node restored its state from (received from a leader). */
  restored: SnapshotMeta[];
  options: NodeOptions;
}

/** Decides, per message, whether the network delivers it. */
export type MessageFilter = (m: Message) => boolean;

export function entry(index: number, term: number, text = `${index}@${term}`): Entry {
  return { index, term, kind: 'command', data: new TextEncoder().encode(text) };
}

/** Entries 1..n with the given terms, as in the paper's figures. */
export function logOfTerms(terms: readonly number[]): Entry[] {
  return terms.map((t, i) => entry(i + 1, t));
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Every message ever sent, for tests that count them. */
  readonly sent: Message[] = [];
  readonly #blocked = new Set<string>();
  readonly #down = new Set<NodeId>();
  readonly #held = new Set<NodeId>();
  trace = false;
  /** When false, a message a node refuses is recorded in `refused` instead of failing the test. */
  strict = true;
  readonly refused: { message: Message; reason: string }[] = [];

  constructor(
    ids: readonly NodeId[],
    options: NodeOptions = {},
    init: (id: NodeId) => { entries?: Entry[]; hardState?: HardState } = () => ({}),
  ) {
    let seed = 1;
    for (const id of ids) {
      const { entries, hardState } = init(id);
      const storage = new MemoryStorage({
        ...(entries !== undefined ? { entries } : {}),
        ...(hardState !== undefined ? { hardState } : {}),
      });
      const nodeOptions: NodeOptions = {
        membership: { voters: [...ids] },
        random: seededRandom(seed++),
        ...options,
      };
      this.#add(id, storage, nodeOptions);
    }
  }

  #add(id: NodeId, storage: MemoryStorage, options: NodeOptions): TestNode {
    const n: TestNode = {
      id,
      raw: this.#create(id, storage, options),
      storage,
      applied: [],
      readStates: [],
      droppedReads: [],
      softStates: [],
      restored: [],
      options,
    };
    this.nodes.set(id, n);
    return n;
  }

  #create(id: NodeId, storage: MemoryStorage, options: NodeOptions): RawNode {
    return new RawNode({
      id,
      storage,
      membership: options.membership ?? { voters: [id] },
      random: options.random ?? seededRandom(7),
      ...options,
    });
  }

  /**
   * Starts a new, empty node that knows no configuration (as one started to join does): it
   * learns the cluster from the leader's entries or snapshot.
   */
  addNode(id: NodeId, options: NodeOptions = {}): TestNode {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    return this.#add(id, new MemoryStorage(), {
      membership: unknownMembership,
      random: seededRandom(100 + this.nodes.size),
      ...options,
    });
  }

  /** Asks the leader `leader` for a membership change and stabilizes; returns its index. */
  change(leader: NodeId, ...changes: MemberChange[]): number {
    const pos = this.raw(leader).changeMembership(changes);
    this.stabilize();
    return pos.lastIndex;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).raw;
  }

  /** Carries out every pending Ready of every node that is up. */
  processReadies(): void {
    for (const n of this.nodes.values()) {
      if (this.#down.has(n.id) || this.#held.has(n.id)) continue;
      while (n.raw.hasReady()) this.#handleReady(n);
    }
  }

  #handleReady(n: TestNode): void {
    carryOutReady(n.raw, {
      observe: (soft) => n.softStates.push(soft),
      send: (messages) => this.#enqueue(messages),
      persist: (rd) => {
        if (rd.snapshot !== null) n.storage.installSnapshot(rd.snapshot);
        if (rd.entries.length > 0) n.storage.append(rd.entries);
        if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
      },
      apply: (rd) => {
        if (rd.snapshot !== null) n.restored.push(rd.snapshot);
        for (const e of rd.committedEntries) n.applied[e.index] = e;
        n.readStates.push(...rd.readStates);
        n.droppedReads.push(...rd.droppedReads);
      },
    });
  }

  #enqueue(messages: readonly Message[]): void {
    for (const m of messages) {
      this.sent.push(m);
      this.queue.push(m);
    }
  }

  #deliverable(m: Message): boolean {
    // A message to an address no node holds (a forged sender's reply) goes nowhere.
    return (
      this.nodes.has(m.to) &&
      !this.#down.has(m.to) &&
      !this.#down.has(m.from) &&
      !this.#blocked.has(`${m.from}->${m.to}`)
    );
  }

  /** Delivers one message (steps it and handles the resulting Readies). */
  deliver(m: Message): void {
    if (!this.#deliverable(m)) return;
    if (this.trace) console.log(describeMessage(m));
    const err = this.raw(m.to).step(m);
    if (err !== undefined) {
      if (this.strict) throw err;
      this.refused.push({ message: m, reason: err.message });
    }
    this.processReadies();
  }

  /**
   * Delivers messages until none is left (dropping those `filter` refuses), handling Readies.
   * Bounded: a livelock fails the test rather than hanging it.
   */
  stabilize(filter: MessageFilter = () => true, maxMessages = 100_000): void {
    this.processReadies();
    for (let delivered = 0; this.queue.length > 0; delivered++) {
      if (delivered >= maxMessages) throw new Error(`not stable after ${maxMessages} messages`);
      const m = this.queue.shift() as Message;
      if (filter(m)) this.deliver(m);
    }
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.raw(id).tick();
    this.processReadies();
  }

  /** Ticks every node that is up, `times` times, stabilizing after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (!this.#down.has(n.id)) n.raw.tick();
      this.stabilize();
    }
  }

  campaign(id: NodeId): void {
    this.raw(id).campaign('election');
    this.stabilize();
  }

  /** Cuts every link to and from `id`. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut(id, other);
    }
  }

  cut(a: NodeId, b: NodeId): void {
    this.#blocked.add(`${a}->${b}`);
    this.#blocked.add(`${b}->${a}`);
  }

  /** Cuts only the direction `from` -> `to`. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.#blocked.add(`${from}->${to}`);
  }

  heal(): void {
    this.#blocked.clear();
  }

  /** Stops a node: what it had not persisted is lost, messages to it are dropped. */
  crash(id: NodeId): void {
    this.#down.add(id);
  }

  /** Starts a crashed node again from what its storage holds. */
  restart(id: NodeId, options: NodeOptions = {}): void {
    const n = this.get(id);
    this.#down.delete(id);
    n.options = { ...n.options, ...options };
    n.raw = this.#create(id, n.storage, n.options);
    n.applied = [];
    this.processReadies();
  }

  /** Stalls a node's disk: its Readies are left to the test until `release`. */
  hold(id: NodeId): void {
    this.#held.add(id);
  }

  release(id: NodeId): void {
    this.#held.delete(id);
    this.processReadies();
  }

  isDown(id: NodeId): boolean {
    return this.#down.has(id);
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()]
      .filter((n) => !this.#down.has(n.id) && n.raw.status().role === 'leader')
      .map((n) => n.id);
  }

  /** Proposes on `id` and stabilizes; returns the index of the last new entry. */
  propose(id: NodeId, ...texts: string[]): number {
    const pos = this.raw(id).propose(texts.map((t) => new TextEncoder().encode(t)));
    this.stabilize();
    return pos.lastIndex;
  }

  /** The node's whole log: stable storage plus what is not yet persisted. */
  logOf(id: NodeId): Entry[] {
    return [...this.get(id).storage.allEntries()];
  }
}

export function termsOf(entries: readonly Entry[]): number[] {
  return entries.map((e) => e.term);
}

export function texts(entries: readonly (Entry | undefined)[]): string[] {
  return entries
    .filter((e): e is Entry => e !== undefined && e.kind === 'command')
    .map((e) => new TextDecoder().decode(e.data));
}
