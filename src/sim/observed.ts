/**
 * @module
 * The simulator's watch on a node: its state machine and its storage, wrapped so that every
 * apply, snapshot, restore, write, install and compaction is shown to the cluster (and through
 * it to the invariants) before it happens, and so that faults can be armed on their next step.
 */
import type { Entry, SnapshotMeta } from '../core/index.js';
import type { StateMachine } from '../node/index.js';
import type { DurableStorage, SnapshotFile, StorageUpdate } from '../storage/index.js';

/** What the cluster watches of a node's state machine. */
export interface StateWatch<S> {
  /** A command is about to be applied. */
  applied(index: number, command: Uint8Array): void;
  /** The state was frozen for a snapshot (the node's next storage call writes it). */
  taken(state: S): void;
  /** The state was replaced by a snapshot's. */
  restored(state: S): void;
}

/**
 * The user's state machine, and the cluster's watch on what it applies and on the states it
 * snapshots and restores. It takes snapshots only if the user's state machine does.
 */
export class Observed<S extends StateMachine> implements StateMachine {
  readonly inner: S;
  readonly #watch: StateWatch<S>;
  readonly takeSnapshot?: () => AsyncIterable<Uint8Array>;
  readonly restoreSnapshot?: (chunks: AsyncIterable<Uint8Array>) => Promise<void>;

  constructor(inner: S, watch: StateWatch<S>) {
    this.inner = inner;
    this.#watch = watch;
    const take = inner.takeSnapshot;
    const restore = inner.restoreSnapshot;
    if (take !== undefined && restore !== undefined) {
      this.takeSnapshot = () => {
        // Frozen at the call: the state now is the one the chunks will hold.
        const chunks = take.call(inner);
        watch.taken(inner);
        return chunks;
      };
      this.restoreSnapshot = async (chunks) => {
        await restore.call(inner, chunks);
        watch.restored(inner);
      };
    }
  }

  apply(command: Uint8Array, index: number, time: number): unknown {
    this.#watch.applied(index, command);
    return this.inner.apply(command, index, time);
  }
}

/** What the cluster watches of a node's storage, before the storage does it. */
export interface StorageWatch {
  /** Entries are written after an entry of term `prevTerm`, in `term`. */
  written(term: number, entries: readonly Entry[], prevTerm: number): void;
  /** A snapshot is written (taken here or received from the leader). */
  snapshotWritten(meta: SnapshotMeta): void;
  /** The log is replaced by the snapshot `meta` and `entries` after it, in `term`. */
  installed(term: number, meta: SnapshotMeta, entries: readonly Entry[]): void;
  /** The log is compacted up to `upTo`; the newest durable snapshot is at `durable`. */
  compacted(upTo: number, durable: number): void;
}

/** The storage a node runs on, with every write shown to the invariants first. */
export class ObservedStorage implements DurableStorage {
  readonly #inner: DurableStorage;
  readonly #watch: StorageWatch;

  /** The index of the newest snapshot known durable here (written, or found at the start). */
  #durableSnapshot: number;

  constructor(inner: DurableStorage, watch: StorageWatch) {
    this.#inner = inner;
    this.#watch = watch;
    this.#durableSnapshot = inner.snapshot()?.index ?? 0;
  }

  #durable(index: number): void {
    this.#durableSnapshot = Math.max(this.#durableSnapshot, index);
  }

  hardState() {
    return this.#inner.hardState();
  }
  firstIndex(): number {
    return this.#inner.firstIndex();
  }
  lastIndex(): number {
    return this.#inner.lastIndex();
  }
  term(index: number): number | undefined {
    return this.#inner.term(index);
  }
  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.#inner.entries(low, high, maxBytes);
  }
  configIndexes(): readonly number[] {
    return this.#inner.configIndexes();
  }
  durableIndex(): number {
    return this.#inner.durableIndex();
  }
  snapshot() {
    return this.#inner.snapshot();
  }
  /**
   * The snapshot last installed through `save`, which the state machine restores next: the
   * newest snapshot may already be another by the time that restore ends (a later one received
   * meanwhile). Taken (set back to null) by whoever checks the restore.
   */
  installing: SnapshotMeta | null = null;
  /** Called (once) when a save records a new vote: power lost while the vote is written. */
  onVote: (() => void) | null = null;
  /** Called (once) as the next snapshot step starts: writing one, compacting, installing. */
  onSnapshotStep: (() => void) | null = null;

  #snapshotStep(): void {
    const step = this.onSnapshotStep;
    this.onSnapshotStep = null;
    step?.();
  }

  save(update: StorageUpdate): Promise<void> {
    const vote = update.hardState?.vote;
    if (this.onVote !== null && vote != null && vote !== this.#inner.hardState().vote) {
      const crash = this.onVote;
      this.onVote = null;
      queueMicrotask(crash);
    }
    const term = update.hardState?.term ?? this.#inner.hardState().term;
    const snapshot = update.snapshot;
    if (snapshot !== undefined) {
      this.#snapshotStep();
      this.installing = snapshot.meta;
      this.#watch.installed(term, snapshot.meta, update.entries);
      return this.#inner.save(update).then(() => this.#durable(snapshot.meta.index));
    } else {
      const first = update.entries[0];
      if (first !== undefined) {
        const prevTerm = first.index === 1 ? 0 : this.#inner.term(first.index - 1);
        if (prevTerm !== undefined) this.#watch.written(term, update.entries, prevTerm);
      }
    }
    return this.#inner.save(update);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
  snapshotFile(): SnapshotFile | null {
    return this.#inner.snapshotFile?.() ?? null;
  }
  writeSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<SnapshotFile> {
    this.#snapshotStep();
    this.#watch.snapshotWritten(meta);
    return (this.#inner.writeSnapshot as NonNullable<DurableStorage['writeSnapshot']>)(
      meta,
      chunks,
    ).then((file) => {
      this.#durable(file.meta.index);
      return file;
    });
  }
  compact(upTo: number): Promise<void> {
    this.#snapshotStep();
    this.#watch.compacted(upTo, this.#durableSnapshot);
    return (this.#inner.compact as NonNullable<DurableStorage['compact']>)(upTo);
  }
  readSnapshot(file: SnapshotFile): AsyncIterable<Uint8Array> {
    return (this.#inner.readSnapshot as NonNullable<DurableStorage['readSnapshot']>)(file);
  }
}
