/**
 * In-process clusters for node tests: real RaftNodes on file storages over a memory disk,
 * joined by a MemoryNetwork, with fast timing. Every node keeps a log of what it applied.
 */
import { seededRandom } from '../../src/core/index.js';
import { RaftNode, type RaftNodeOptions, type StateMachine } from '../../src/node/index.js';
import {
  type DurableStorage,
  FileStorage,
  MemoryFileSystem,
  type StorageUpdate,
} from '../../src/storage/index.js';
import {
  MemoryNetwork,
  type MemoryTransport,
  type MessageHandler,
  type Transport,
  type WireMessage,
} from '../../src/transport/index.js';

/** Appends each command (as text) to a list and returns the new length; `fail` throws. */
export class ListMachine implements StateMachine {
  readonly applied: string[] = [];
  readonly indices: number[] = [];
  /** The log's time each command was applied at. */
  readonly times: number[] = [];

  apply(command: Uint8Array, index: number, time: number): unknown {
    const text = new TextDecoder().decode(command);
    if (text === 'fail') throw new Error('the state machine refused "fail"');
    this.applied.push(text);
    this.indices.push(index);
    this.times.push(time);
    return this.applied.length;
  }
}

// Fast, yet slow enough that a loaded CI machine does not see spurious elections.
export const fastTiming = { heartbeatMs: 20, electionMs: 200 } as const;

export const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

type Extra = Partial<
  Omit<RaftNodeOptions<ListMachine>, 'id' | 'members' | 'transport' | 'storage' | 'stateMachine'>
>;

export interface Parts {
  /** Small segments make compaction drop whole files after a few entries. */
  readonly maxSegmentBytes?: number;
  readonly storage?: (s: DurableStorage) => DurableStorage;
  readonly transport?: (t: Transport) => Transport;
}

/** A storage whose saves can be held back: a disk whose fsync does not return. */
export class GatedStorage implements DurableStorage {
  readonly #inner: DurableStorage;
  #gate: Promise<void> | null = null;
  #open: () => void = () => {};
  savesHeld = 0;

  constructor(inner: DurableStorage) {
    this.#inner = inner;
  }

  hold(): void {
    if (this.#gate === null) this.#gate = new Promise((r) => (this.#open = r));
  }

  release(): void {
    this.#gate = null;
    this.#open();
  }

  async save(update: StorageUpdate): Promise<void> {
    if (this.#gate !== null) {
      this.savesHeld++;
      await this.#gate;
    }
    return this.#inner.save(update);
  }

  hardState = () => this.#inner.hardState();
  firstIndex = () => this.#inner.firstIndex();
  lastIndex = () => this.#inner.lastIndex();
  term = (i: number) => this.#inner.term(i);
  entries = (lo: number, hi: number, max: number) => this.#inner.entries(lo, hi, max);
  durableIndex = () => this.#inner.durableIndex();
  snapshot = () => this.#inner.snapshot();
  configIndexes = () => this.#inner.configIndexes();
  close = () => this.#inner.close();
}

/** A transport that records every message it is asked to send. */
export class WatchedTransport implements Transport {
  readonly sent: WireMessage[] = [];
  readonly #inner: Transport;

  constructor(inner: Transport) {
    this.#inner = inner;
  }

  get id(): string {
    return this.#inner.id;
  }

  get maxMessageBytes(): number {
    return this.#inner.maxMessageBytes;
  }

  send(m: WireMessage): void {
    this.sent.push(m);
    this.#inner.send(m);
  }

  start = (h: MessageHandler) => this.#inner.start(h);
  close = () => this.#inner.close();
  stats = () => this.#inner.stats();

  /** The peers the node last gave (a memory transport routes by id and needs none). */
  peers: Readonly<Record<string, string>> | null = null;
  updatePeers(peers: Readonly<Record<string, string>>): void {
    this.peers = peers;
    this.#inner.updatePeers?.(peers);
  }
}

export class TestCluster<S extends StateMachine = ListMachine> {
  readonly network = new MemoryNetwork();
  readonly fs = new MemoryFileSystem();
  readonly ids: string[];
  readonly nodes = new Map<string, RaftNode<S>>();
  /** Each node's memory transport (under any wrapper), to forge what arrives at it. */
  readonly transports = new Map<string, MemoryTransport>();
  readonly #machine: () => S;
  readonly #extra: Extra;
  #seed = 1;

  constructor(size: number, extra: Extra = {}, machine?: () => S) {
    this.ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    this.#extra = extra;
    this.#machine = machine ?? (() => new ListMachine() as unknown as S);
  }

  static async start(size: number, extra: Extra = {}, parts: Parts = {}): Promise<TestCluster> {
    return TestCluster.of(size, () => new ListMachine(), extra, parts);
  }

  /** A started cluster whose nodes hold state machines made by `machine`. */
  static async of<T extends StateMachine>(
    size: number,
    machine: () => T,
    extra: Extra = {},
    parts: Parts = {},
  ): Promise<TestCluster<T>> {
    const c = new TestCluster<T>(size, extra, machine);
    for (const id of c.ids) await c.startNode(id, {}, parts);
    return c;
  }

  /** Starts a new node `id` that knows no member: it waits for a leader to add it. */
  startJoiner(id: string, extra: Extra = {}): Promise<RaftNode<S>> {
    return this.startNode(id, { ...extra, join: true }, {}, []);
  }

  /** Starts node `id`; `parts` may wrap its storage or transport (to watch or hold them). */
  async startNode(
    id: string,
    extra: Extra = {},
    parts: Parts = {},
    members: readonly string[] = this.ids,
  ): Promise<RaftNode<S>> {
    const file = await FileStorage.open(`/${id}`, {
      fs: this.fs,
      logger: { warn: () => {} },
      ...(parts.maxSegmentBytes === undefined ? {} : { maxSegmentBytes: parts.maxSegmentBytes }),
    });
    const storage = parts.storage?.(file) ?? file;
    const memory = this.network.transport(id);
    this.transports.set(id, memory);
    const transport = parts.transport?.(memory) ?? memory;
    const node = await RaftNode.start({
      id,
      members,
      storage,
      transport,
      stateMachine: this.#machine(),
      random: seededRandom(this.#seed++),
      ...fastTiming,
      ...this.#extra,
      ...extra,
    });
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): RaftNode<S> {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Resolves with the leader once every running node agrees on one. */
  async leader(timeoutMs = 5000): Promise<RaftNode<S>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const running = [...this.nodes.values()].filter((n) => n.running);
      const leaders = running.filter((n) => n.isLeader);
      const leader = leaders[0];
      if (
        leaders.length === 1 &&
        leader !== undefined &&
        running.every((n) => n.leader === leader.id)
      ) {
        return leader;
      }
      if (performance.now() > deadline) throw new Error('no agreed leader in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  followers(): RaftNode<S>[] {
    return [...this.nodes.values()].filter((n) => n.running && !n.isLeader);
  }

  /** Waits until every running node has applied `count` commands (of a ListMachine). */
  async applied(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const length = (n: RaftNode<S>): number =>
      (n.stateMachine as unknown as ListMachine).applied.length;
    while ([...this.nodes.values()].some((n) => n.running && length(n) < count)) {
      if (performance.now() > deadline) {
        const counts = [...this.nodes.values()].map((n) => `${n.id}:${length(n)}`);
        throw new Error(`not applied ${count} everywhere in time (${counts.join(' ')})`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
  }
}
