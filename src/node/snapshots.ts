/**
 * @module
 * The node's snapshots: when to take one, what it holds, and restoring from one.
 *
 * Policy: a snapshot of what was applied after `snapshotEntries` applied entries, or sooner
 * when the entries applied since the last one pass `snapshotBytes`; one at a time. The state
 * machine freezes its state as the snapshot starts and hands it out in chunks, written as they
 * come while commands keep applying; once the file is durable the log is compacted behind it,
 * keeping `snapshotKeepEntries` entries for followers slightly behind.
 *
 * A snapshot's bytes start with a line of the node's own: the log's time and the cluster's
 * identity at the snapshot's index (both live in entries a compaction drops), then the state
 * machine's bytes.
 */
import {
  type Entry,
  entrySizeBytes,
  type Membership,
  membershipSpec,
  type SnapshotMeta,
} from '../core/index.js';
import type { DurableStorage, SnapshotFile } from '../storage/index.js';
import type { NodeLogger } from './options.js';
import type { StateMachine } from './state-machine.js';

/** What the node keeps in a snapshot besides the state machine's state. */
export interface NodeSnapshotHeader {
  readonly logTime: number;
  readonly cluster: string | null;
}

export interface SnapshotPolicy {
  /** Snapshot after this many entries applied since the last one. Default 10,000. */
  readonly snapshotEntries?: number;
  /** ... or after this many bytes of entries. Default 64 MiB. */
  readonly snapshotBytes?: number;
  /** Entries kept behind a snapshot when the log is compacted. Default 5,000 (as etcd). */
  readonly snapshotKeepEntries?: number;
}

export const DEFAULT_SNAPSHOT_ENTRIES = 10_000;
export const DEFAULT_SNAPSHOT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SNAPSHOT_KEEP_ENTRIES = 5_000;

const FORMAT = 'raftkit node snapshot';
const encoder = new TextEncoder();

export interface SnapshotsContext {
  readonly storage: DurableStorage;
  readonly stateMachine: StateMachine;
  readonly logger: NodeLogger;
  readonly policy: SnapshotPolicy;
  /** The node's own part of the snapshot, as of the last entry applied. */
  header(): NodeSnapshotHeader;
  /** The configuration in force at `index` of the log. */
  membershipAt(index: number): Membership;
  /** A snapshot at `index` was written (and the log compacted behind it). */
  written(index: number): void;
  /** The snapshot could not be written: the node stops. */
  fail(error: Error): void;
}

export class Snapshots {
  readonly #ctx: SnapshotsContext;
  readonly #entries: number;
  readonly #bytes: number;
  readonly #keep: number;
  #taking: Promise<void> | null = null;
  /** Entries and bytes applied since the last snapshot began. */
  #sinceEntries = 0;
  #sinceBytes = 0;
  #lastIndex: number;

  constructor(context: SnapshotsContext) {
    this.#ctx = context;
    this.#entries = context.policy.snapshotEntries ?? DEFAULT_SNAPSHOT_ENTRIES;
    this.#bytes = context.policy.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES;
    this.#keep = context.policy.snapshotKeepEntries ?? DEFAULT_SNAPSHOT_KEEP_ENTRIES;
    this.#lastIndex = context.storage.snapshot()?.index ?? 0;
  }

  /** Whether this node can snapshot at all: its storage and state machine both must. */
  get enabled(): boolean {
    const { storage, stateMachine } = this.#ctx;
    return (
      storage.writeSnapshot !== undefined &&
      storage.compact !== undefined &&
      stateMachine.takeSnapshot !== undefined &&
      stateMachine.restoreSnapshot !== undefined
    );
  }

  /** The snapshot being written, if any (stopping waits for it). */
  get taking(): Promise<void> | null {
    return this.#taking;
  }

  /**
   * Entries were applied, up to `entry` (the last of them): takes a snapshot of the state now,
   * if the policy says so. Must run before the next entry applies: the state freezes here.
   */
  applied(entries: readonly Entry[], last: Entry): void {
    for (const e of entries) {
      this.#sinceEntries++;
      this.#sinceBytes += entrySizeBytes(e);
    }
    if (!this.enabled || this.#taking !== null) return;
    if (this.#sinceEntries < this.#entries && this.#sinceBytes < this.#bytes) return;
    if (last.index <= this.#lastIndex) return;
    const membership = this.#ctx.membershipAt(last.index);
    // A node that joined knows no configuration before the entry that added it.
    if (membership.voters.size === 0) return;
    this.#take({ index: last.index, term: last.term, membership: membershipSpec(membership) });
  }

  #take(meta: SnapshotMeta): void {
    const { storage, stateMachine, logger } = this.#ctx;
    this.#sinceEntries = 0;
    this.#sinceBytes = 0;
    const state = (stateMachine.takeSnapshot as () => AsyncIterable<Uint8Array>).call(stateMachine);
    const chunks = withNodeHeader(this.#ctx.header(), state);
    const started = performance.now();
    this.#taking = (async () => {
      const file = await (storage.writeSnapshot as NonNullable<DurableStorage['writeSnapshot']>)(
        meta,
        chunks,
      );
      this.#lastIndex = meta.index;
      await (storage.compact as NonNullable<DurableStorage['compact']>)(
        Math.max(0, meta.index - this.#keep),
      );
      logger.info(
        { index: meta.index, bytes: file.bytes, ms: Math.round(performance.now() - started) },
        `snapshot at ${meta.index} written`,
      );
      this.#ctx.written(meta.index);
    })()
      .catch((e: unknown) => this.#ctx.fail(e instanceof Error ? e : new Error(String(e))))
      .finally(() => {
        this.#taking = null;
      });
  }

  /**
   * A snapshot of what is applied now, outside the policy (for a backup), once the one being
   * written is done; the newest file when it already holds everything applied. `applied` is
   * the last entry applied, read when the snapshot starts.
   */
  async now(applied: () => { index: number; term: number }): Promise<SnapshotFile> {
    const { storage } = this.#ctx;
    if (!this.enabled || storage.snapshotFile === undefined) {
      throw new NodeSnapshotError('this node cannot take snapshots');
    }
    while (this.#taking !== null) await this.#taking;
    const last = applied();
    if (last.index > this.#lastIndex) {
      const membership = this.#ctx.membershipAt(last.index);
      if (membership.voters.size === 0) {
        throw new NodeSnapshotError('this node does not know the configuration yet');
      }
      this.#take({ index: last.index, term: last.term, membership: membershipSpec(membership) });
      await this.#taking;
    }
    const file = storage.snapshotFile();
    if (file === null || file.meta.index < last.index) {
      throw new NodeSnapshotError(`the snapshot at ${last.index} could not be written`);
    }
    return file;
  }

  /** A snapshot from the leader replaced the log: the next one is counted from it. */
  installed(index: number): void {
    this.#lastIndex = Math.max(this.#lastIndex, index);
    this.#sinceEntries = 0;
    this.#sinceBytes = 0;
  }
}

/** The node's header line, then the state machine's chunks. */
export async function* withNodeHeader(
  header: NodeSnapshotHeader,
  state: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield encoder.encode(`${JSON.stringify({ format: FORMAT, version: 1, ...header })}\n`);
  yield* state;
}

/** A snapshot's bytes that are not one of a node's. */
export class NodeSnapshotError extends Error {}

/**
 * Reads a snapshot's chunks back: the node's header, and the state machine's bytes after it
 * (which the state machine reads as it restores).
 */
export async function readNodeSnapshot(
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ header: NodeSnapshotHeader; state: AsyncIterable<Uint8Array> }> {
  const it = chunks[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  let newline = -1;
  while (newline < 0) {
    const next = await it.next();
    if (next.done === true) throw new NodeSnapshotError('the snapshot ends before its header');
    head = concat(head, next.value);
    newline = head.indexOf(0x0a);
    if (newline < 0 && head.length > 64 * 1024) throw new NodeSnapshotError('no header line');
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, newline)),
    );
  } catch {
    throw new NodeSnapshotError('the header is not JSON');
  }
  if (parsed.format !== FORMAT || parsed.version !== 1) {
    throw new NodeSnapshotError(`not a ${FORMAT} of version 1`);
  }
  const logTime = parsed.logTime;
  const cluster = parsed.cluster;
  if (!Number.isSafeInteger(logTime) || (logTime as number) < 0) {
    throw new NodeSnapshotError('no log time in the header');
  }
  if (cluster !== null && (typeof cluster !== 'string' || cluster === '')) {
    throw new NodeSnapshotError('a bad cluster identity in the header');
  }
  const rest = head.subarray(newline + 1);
  const state = (async function* () {
    if (rest.length > 0) yield rest;
    for (;;) {
      const next = await it.next();
      if (next.done === true) return;
      yield next.value;
    }
  })();
  return { header: { logTime: logTime as number, cluster: cluster as string | null }, state };
}

/** Restores `stateMachine` from `file`; returns the node's header. */
export async function restoreFrom(
  storage: DurableStorage,
  stateMachine: StateMachine,
  file: SnapshotFile,
): Promise<NodeSnapshotHeader> {
  if (storage.readSnapshot === undefined || stateMachine.restoreSnapshot === undefined) {
    throw new NodeSnapshotError(
      `there is a snapshot at ${file.meta.index}, and the state machine cannot restore one`,
    );
  }
  const { header, state } = await readNodeSnapshot(storage.readSnapshot(file));
  await stateMachine.restoreSnapshot(state);
  return header;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
