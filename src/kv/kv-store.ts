/**
 * @module
 * The key-value state machine: string keys to string values, each stamped with the log index
 * of the write that set it. Writes are put, delete and compare-and-set; each returns the
 * index it was applied at. Writes that carry a session are applied at most once (see
 * `sessions.ts`); a retry gets the first result back, index included.
 */
import type { StateMachine } from '../node/index.js';
import { decodeKvCommand, type KvResult, type KvWrite, type SessionRef } from './commands.js';
import { type SessionOptions, type SessionSnapshot, SessionTable } from './sessions.js';

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
}

export class KvStore implements StateMachine {
  readonly sessions: SessionTable;
  #data = new Map<string, KvEntry>();
  #appliedIndex = 0;

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

  /** Every key and its entry, in the order they were first written. */
  entries(): IterableIterator<[string, KvEntry]> {
    return this.#data.entries();
  }

  apply(bytes: Uint8Array, index: number, time: number): KvResult {
    const command = decodeKvCommand(bytes, index);
    this.#appliedIndex = index;
    this.sessions.advance(time);
    if (command.op === 'register') return { client: this.sessions.register(index) };
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

  snapshot(): KvSnapshot {
    return {
      version: 1,
      appliedIndex: this.#appliedIndex,
      data: [...this.#data],
      sessions: this.sessions.snapshot(),
    };
  }

  restore(snapshot: KvSnapshot): void {
    this.#data = new Map(snapshot.data);
    this.#appliedIndex = snapshot.appliedIndex;
    this.sessions.restore(snapshot.sessions);
  }
}
