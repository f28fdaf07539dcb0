/**
 * @module
 * The key-value state machine: string keys to string values, each stamped with the log index
 * of the write that set it. Writes are put, delete and compare-and-set; each returns the
 * index it was applied at. Writes that carry a session are applied at most once (see
 * `sessions.ts`); a retry gets the first result back, index included.
 */
import type { StateMachine } from '../node/index.js';
import { decodeKvCommand, type KvResult, type KvWrite, type SessionRef } from './commands.js';
import { KvSnapshotError, parseKv, serialiseKv } from './kv-snapshot.js';
import {
  checkSessionSnapshot,
  type SessionOptions,
  type SessionSnapshot,
  SessionTable,
} from './sessions.js';
import { SnapshotMap } from './snapshot-map.js';

export interface KvEntry {
  readonly value: string;
  /** The log index of the write that set this value. */
  readonly index: number;
}

export interface KvSnapshot {
  readonly version: 1;
  readonly appliedIndex: number;
  readonly data: readonly (readonly [string, KvEntry])[];
  readonly sessions: SessionSnapshot;
  /** Members' HTTP URLs as advertised (absent in snapshots taken before there were any). */
  readonly urls?: Readonly<Record<string, string>>;
}

export class KvStore implements StateMachine {
  readonly sessions: SessionTable;
  /** Frozen in O(1) for a snapshot, while writes go on (see `snapshot-map.ts`). */
  #data = new SnapshotMap<KvEntry>();
  #appliedIndex = 0;
  /** Each member's HTTP URL, as it advertised it through the log (see `advertiser.ts`). */
  #urls = new Map<string, string>();

  constructor(options: SessionOptions = {}) {
    this.sessions = new SessionTable(options);
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  get size(): number {
    return this.#data.size;
  }

  get(key: string): KvEntry | undefined {
    return this.#data.get(key);
  }

  /** Members' HTTP URLs by id, as they advertised them; a removed member's stays. */
  get urls(): ReadonlyMap<string, string> {
    return this.#urls;
  }

  /** Every key and its entry, in the order they were first written. */
  entries(): IterableIterator<[string, KvEntry]> {
    return this.#data.entries();
  }

  apply(bytes: Uint8Array, index: number, time: number): KvResult {
    const command = decodeKvCommand(bytes, index);
    this.#appliedIndex = index;
    this.sessions.advance(time);
    if (command.op === 'register') return { client: this.sessions.register(index) };
    if (command.op === 'advertise') {
      this.#urls.set(command.id, command.url);
      return { index };
    }
    return this.#write(command, index, command.session);
  }

  #write(command: KvWrite, index: number, session: SessionRef | undefined): KvResult {
    if (session === undefined) return this.#change(command, index);
    const seen = this.sessions.check(session);
    if (seen.kind === 'duplicate') return seen.result;
    if (seen.kind === 'rejected') return { rejected: seen.reason };
    const result = this.#change(command, index);
    this.sessions.record(session, result);
    return result;
  }

  #change(command: KvWrite, index: number): KvResult {
    const { key } = command;
    switch (command.op) {
      case 'put':
        this.#data.set(key, { value: command.value, index });
        return { index };
      case 'del':
        return { index, deleted: this.#data.delete(key) };
      case 'cas': {
        const current = this.#data.get(key)?.value ?? null;
        if (current !== command.expected) return { index, succeeded: false };
        if (command.value === null) this.#data.delete(key);
        else this.#data.set(key, { value: command.value, index });
        return { index, succeeded: true };
      }
    }
  }

  /** The whole state as one value (for tests and small stores; the node uses `takeSnapshot`). */
  snapshot(): KvSnapshot {
    return {
      version: 1,
      appliedIndex: this.#appliedIndex,
      data: [...this.#data.entries()],
      sessions: this.sessions.snapshot(),
      urls: Object.fromEntries(this.#urls),
    };
  }

  restore(snapshot: KvSnapshot): void {
    this.#data = mapOf(snapshot.data);
    this.#appliedIndex = snapshot.appliedIndex;
    this.sessions.restore(snapshot.sessions);
    this.#urls = new Map(Object.entries(snapshot.urls ?? {}));
  }

  /**
   * The state as of now, frozen in O(1): keys are serialised a slice at a time as the chunks
   * are read, while writes go on (the sessions, which are few, are copied at once).
   */
  takeSnapshot(): AsyncIterable<Uint8Array> {
    const view = this.#data.freeze();
    const header = {
      appliedIndex: this.#appliedIndex,
      keys: this.#data.size,
      sessions: this.sessions.snapshot(),
      ...(this.#urls.size === 0 ? {} : { urls: Object.fromEntries(this.#urls) }),
    };
    return serialiseKv(header, view.entries(), () => view.release());
  }

  /** Replaces the state with a snapshot's; on a damaged one throws and changes nothing. */
  async restoreSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parsed = await parseKv(chunks);
    const problem = checkSessionSnapshot(parsed.sessions);
    if (problem !== undefined) throw new KvSnapshotError(`sessions: ${problem}`);
    this.#data = SnapshotMap.adopt(parsed.data);
    this.#appliedIndex = parsed.appliedIndex;
    this.sessions.restore(parsed.sessions);
    this.#urls = new Map(Object.entries(parsed.urls ?? {}));
  }
}

function mapOf(entries: Iterable<readonly [string, KvEntry]>): SnapshotMap<KvEntry> {
  const map = new SnapshotMap<KvEntry>();
  for (const [key, entry] of entries) map.set(key, entry);
  return map;
}
