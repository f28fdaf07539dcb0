/**
 * @module
 * Streaming a snapshot from the leader to a follower, beside the core: the core says which
 * follower needs the snapshot (an `install-snapshot` message), and this sends the file in
 * pieces instead, never holding more than a window of them, so that a state of gigabytes
 * streams without the leader's memory growing by as much.
 *
 * Flow control and loss: each piece is acknowledged with the offset the follower has reached;
 * at most `windowBytes` are unacknowledged. A follower that sees a piece beyond what it has
 * says so (`gap`), and the leader sends again from there, as it does when no acknowledgement
 * comes for `resendMs` (a datagram lost over UDP). With no progress for `timeoutMs` the
 * transfer is given up and the core told, which sends the snapshot again later.
 *
 * On the follower, pieces are written to the snapshot file as they come (the acknowledgement
 * leaves once a piece is taken by the writer); after the last, once the file is durable, the
 * core gets the snapshot's metadata as an `install-snapshot` from the leader.
 */
import type { InstallSnapshot, NodeId, RawNode, SnapshotMeta } from '../core/index.js';
import type { DurableStorage, SnapshotFile } from '../storage/index.js';
import type { SnapshotAck, SnapshotChunk, Transport } from '../transport/index.js';
import type { NodeLogger } from './options.js';

export interface TransferOptions {
  /** Largest piece, in bytes. Default 1 MiB (less when the transport carries less). */
  readonly chunkBytes?: number;
  /** Bytes sent and not yet acknowledged, at most. Default 4 MiB. */
  readonly windowBytes?: number;
  /** No acknowledgement this long: the unacknowledged pieces go again. Default 1 s. */
  readonly resendMs?: number;
  /** No progress this long: the transfer is given up. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface TransferContext {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly logger: NodeLogger;
  readonly now: () => number;
  readonly options: TransferOptions;
  /** Hands the core a snapshot whose file is now durable here. */
  deliver(m: InstallSnapshot): void;
  schedule(): void;
}

interface Piece {
  readonly offset: number;
  readonly data: Uint8Array;
  readonly last: boolean;
}

/** Room in a message for everything a piece carries besides its data. */
const PIECE_OVERHEAD_BYTES = 2048;

/** The leader's side: one stream per follower being sent a snapshot. */
class Outgoing {
  readonly to: NodeId;
  readonly meta: SnapshotMeta;
  readonly term: number;
  readonly #ctx: TransferContext;
  readonly #chunkBytes: number;
  readonly #reader: AsyncIterator<Uint8Array>;
  /** Read from the file and not yet sent (at most one piece ahead). */
  #buffered: Uint8Array = new Uint8Array(0);
  #eof = false;
  #reading = false;
  /** Sent and not acknowledged, oldest first. */
  #unacked: Piece[] = [];
  #sentTo = 0;
  #acked = 0;
  #lastProgress: number;
  #lastSend: number;
  done = false;

  constructor(ctx: TransferContext, to: NodeId, file: SnapshotFile, term: number) {
    this.#ctx = ctx;
    this.to = to;
    this.meta = file.meta;
    this.term = term;
    const carried = ctx.transport.maxMessageBytes - PIECE_OVERHEAD_BYTES;
    this.#chunkBytes = Math.max(1024, Math.min(ctx.options.chunkBytes ?? 1024 * 1024, carried));
    this.#reader = (ctx.storage.readSnapshot as NonNullable<DurableStorage['readSnapshot']>)(file)[
      Symbol.asyncIterator
    ]();
    this.#lastProgress = ctx.now();
    this.#lastSend = ctx.now();
  }

  get #window(): number {
    return this.#ctx.options.windowBytes ?? 4 * 1024 * 1024;
  }

  /** Sends what the window allows, reading the file as needed. */
  async pump(): Promise<void> {
    if (this.#reading || this.done) return;
    this.#reading = true;
    try {
      while (!this.done && this.#sentTo - this.#acked < this.#window) {
        const piece = await this.#nextPiece();
        if (piece === null || this.done) return;
        this.#unacked.push(piece);
        this.#send(piece);
        this.#sentTo = piece.offset + piece.data.byteLength;
        if (piece.last) return;
      }
    } finally {
      this.#reading = false;
    }
  }

  /** The next piece of at most `chunkBytes`, knowing whether it is the last. */
  async #nextPiece(): Promise<Piece | null> {
    while (!this.#eof && this.#buffered.byteLength <= this.#chunkBytes) {
      const next = await this.#reader.next();
      if (next.done === true) this.#eof = true;
      else this.#buffered = concat(this.#buffered, next.value);
    }
    // Everything is out (a snapshot is never empty: the node's header line comes first).
    if (this.#buffered.byteLength === 0 && this.#eof) return null;
    const data = this.#buffered.subarray(0, this.#chunkBytes);
    this.#buffered = this.#buffered.subarray(data.byteLength);
    const last = this.#eof && this.#buffered.byteLength === 0;
    return { offset: this.#sentTo, data, last };
  }

  #send(piece: Piece): void {
    this.#lastSend = this.#ctx.now();
    const chunk: SnapshotChunk = {
      type: 'snapshot-chunk',
      from: this.#ctx.id,
      to: this.to,
      term: this.term,
      snapshot: this.meta,
      offset: piece.offset,
      last: piece.last,
      data: piece.data,
    };
    this.#ctx.transport.send(chunk);
  }

  /** The follower's acknowledgement. Returns true once the transfer is over. */
  onAck(m: SnapshotAck): boolean {
    if (m.status === 'failed') return true;
    if (m.status === 'installed') return true;
    if (m.offset > this.#acked) {
      this.#acked = m.offset;
      this.#lastProgress = this.#ctx.now();
      this.#unacked = this.#unacked.filter((p) => p.offset + p.data.byteLength > m.offset);
    }
    if (m.status === 'gap') this.#resend();
    void this.pump();
    return false;
  }

  #resend(): void {
    for (const piece of this.#unacked) this.#send(piece);
  }

  /** On each tick: resends what went unanswered, and says whether it is time to give up. */
  tick(): boolean {
    const now = this.#ctx.now();
    if (now - this.#lastProgress > (this.#ctx.options.timeoutMs ?? 10_000)) return true;
    if (this.#unacked.length > 0 && now - this.#lastSend > (this.#ctx.options.resendMs ?? 1000)) {
      this.#resend();
    }
    return false;
  }

  close(): void {
    this.done = true;
    void this.#reader.return?.();
  }
}

/** Pieces handed to the snapshot writer as they arrive, in order. */
class PieceQueue implements AsyncIterable<Uint8Array> {
  readonly #pieces: Uint8Array[] = [];
  #ended = false;
  #failed: Error | null = null;
  #wake: (() => void) | null = null;
  /** Called as the writer takes each piece, with the bytes taken so far. */
  readonly #taken: (bytes: number) => void;
  #bytes = 0;

  constructor(taken: (bytes: number) => void) {
    this.#taken = taken;
  }

  push(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  fail(error: Error): void {
    this.#failed = error;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.#failed !== null) throw this.#failed;
      const piece = this.#pieces.shift();
      if (piece !== undefined) {
        this.#bytes += piece.byteLength;
        this.#taken(this.#bytes);
        yield piece;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }
}

/** The follower's side: the snapshot being received, if any. */
class Incoming {
  readonly meta: SnapshotMeta;
  readonly leader: NodeId;
  readonly term: number;
  expected = 0;
  readonly queue: PieceQueue;
  readonly written: Promise<SnapshotFile>;

  constructor(
    storage: DurableStorage,
    m: SnapshotChunk,
    taken: (incoming: Incoming, bytes: number) => void,
  ) {
    this.meta = m.snapshot;
    this.leader = m.from;
    this.term = m.term;
    this.queue = new PieceQueue((bytes) => taken(this, bytes));
    const write = storage.writeSnapshot as NonNullable<DurableStorage['writeSnapshot']>;
    this.written = write.call(storage, m.snapshot, this.queue);
    this.written.catch(() => {}); // awaited where it matters
  }
}

export class SnapshotTransfers {
  readonly #ctx: TransferContext;
  readonly #outgoing = new Map<NodeId, Outgoing>();
  #incoming: Incoming | null = null;

  constructor(context: TransferContext) {
    this.#ctx = context;
  }

  /** The core asks to send `m.snapshot` to `m.to`: streamed, unless it already is. */
  send(m: InstallSnapshot): void {
    const file = this.#ctx.storage.snapshotFile?.() ?? null;
    const current = this.#outgoing.get(m.to);
    if (current !== undefined && current.meta.index === m.snapshot.index && !current.done) return;
    current?.close();
    if (
      file === null ||
      file.meta.index !== m.snapshot.index ||
      this.#ctx.storage.readSnapshot === undefined
    ) {
      // The file is not there to stream (a newer one replaced it): the core tries again.
      this.#ctx.raw.reportSnapshot(m.to, false);
      this.#ctx.schedule();
      return;
    }
    const outgoing = new Outgoing(this.#ctx, m.to, file, m.term);
    this.#outgoing.set(m.to, outgoing);
    outgoing.pump().catch((e: unknown) => this.#give(outgoing, false, e));
  }

  onAck(m: SnapshotAck): void {
    const outgoing = this.#outgoing.get(m.from);
    if (outgoing === undefined || outgoing.meta.index !== m.index || outgoing.term !== m.term)
      return;
    if (outgoing.onAck(m)) this.#give(outgoing, m.status === 'installed');
  }

  /** On each tick: resends, and gives up transfers that stopped moving. */
  tick(): void {
    for (const outgoing of [...this.#outgoing.values()]) {
      if (outgoing.tick()) this.#give(outgoing, false, 'no progress');
    }
  }

  /** This node no longer leads: its transfers end (the core forgot them with its progress). */
  stopSending(): void {
    for (const outgoing of this.#outgoing.values()) outgoing.close();
    this.#outgoing.clear();
  }

  #give(outgoing: Outgoing, finished: boolean, why?: unknown): void {
    outgoing.close();
    if (this.#outgoing.get(outgoing.to) === outgoing) this.#outgoing.delete(outgoing.to);
    if (!finished) {
      this.#ctx.logger.warn(
        { to: outgoing.to, index: outgoing.meta.index, why: String(why ?? 'refused') },
        `sending the snapshot at ${outgoing.meta.index} to ${outgoing.to} stopped; it will be sent again`,
      );
    }
    this.#ctx.raw.reportSnapshot(outgoing.to, finished);
    this.#ctx.schedule();
  }

  /** A piece of a snapshot from the leader. */
  onChunk(m: SnapshotChunk): void {
    const refusal = this.#take(m);
    if (refusal !== null) this.#ack(m, refusal.offset, refusal.status);
  }

  /** Takes the piece, or says what to answer instead. */
  #take(m: SnapshotChunk): { offset: number; status: SnapshotAck['status'] } | null {
    const { storage } = this.#ctx;
    if (storage.writeSnapshot === undefined) return { offset: 0, status: 'failed' };
    // Already installed (a late copy of a finished transfer): nothing to do.
    if (this.#ctx.raw.commitIndex >= m.snapshot.index) {
      return { offset: m.offset + m.data.byteLength, status: 'installed' };
    }
    // Already written here, and not installed: its hand-over to the core was lost (the core
    // had moved to a later term and dropped it). Handed over again from the file, as the
    // sender's, rather than answered as done (the sender would then wait on it forever).
    const file = storage.snapshotFile?.() ?? null;
    if (file !== null && file.meta.index >= m.snapshot.index) {
      this.#ctx.deliver({
        type: 'install-snapshot',
        from: m.from,
        to: this.#ctx.id,
        term: m.term,
        snapshot: file.meta,
      });
      return { offset: m.offset + m.data.byteLength, status: 'installed' };
    }
    const current = this.#incoming;
    const same =
      current !== null && current.meta.index === m.snapshot.index && current.term === m.term;
    // A first piece starts a transfer, unless it is a copy of this one's (then it is old).
    if (m.offset === 0 && !same) this.#start(m);
    const incoming = this.#incoming;
    if (incoming === null || incoming.meta.index !== m.snapshot.index || incoming.term !== m.term) {
      return { offset: 0, status: 'gap' };
    }
    if (m.offset < incoming.expected) return { offset: incoming.expected, status: 'received' };
    if (m.offset > incoming.expected) return { offset: incoming.expected, status: 'gap' };
    incoming.expected += m.data.byteLength;
    incoming.queue.push(m.data);
    if (m.last) {
      incoming.queue.end();
      void this.#finish(incoming);
    }
    return null;
  }

  #start(m: SnapshotChunk): void {
    this.#incoming?.queue.fail(new Error('a newer transfer began'));
    this.#incoming = new Incoming(this.#ctx.storage, m, (incoming, bytes) => {
      // A piece is in the writer's hands: the leader may send on.
      if (this.#incoming === incoming) this.#ackIncoming(incoming, bytes, 'received');
    });
  }

  async #finish(incoming: Incoming): Promise<void> {
    try {
      await incoming.written;
    } catch (e) {
      this.#ctx.logger.warn(
        { err: e, index: incoming.meta.index },
        'writing a received snapshot failed',
      );
      if (this.#incoming === incoming) this.#incoming = null;
      this.#ackIncoming(incoming, 0, 'failed');
      return;
    }
    if (this.#incoming === incoming) this.#incoming = null;
    this.#ctx.deliver({
      type: 'install-snapshot',
      from: incoming.leader,
      to: this.#ctx.id,
      term: incoming.term,
      snapshot: incoming.meta,
    });
    this.#ackIncoming(incoming, incoming.expected, 'installed');
  }

  #ack(m: SnapshotChunk, offset: number, status: SnapshotAck['status']): void {
    this.#ctx.transport.send({
      type: 'snapshot-ack',
      from: this.#ctx.id,
      to: m.from,
      term: m.term,
      index: m.snapshot.index,
      offset,
      status,
    });
  }

  #ackIncoming(incoming: Incoming, offset: number, status: SnapshotAck['status']): void {
    this.#ctx.transport.send({
      type: 'snapshot-ack',
      from: this.#ctx.id,
      to: incoming.leader,
      term: incoming.term,
      index: incoming.meta.index,
      offset,
      status,
    });
  }

  /** Stops every transfer (the node stops). */
  close(): void {
    this.stopSending();
    this.#incoming?.queue.fail(new Error('the node stopped'));
    this.#incoming = null;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
