/**
 * @module
 * The order in which a Ready is carried out: the rule that keeps data safe, written once.
 * The node, the test harnesses, the benchmarks and the examples all go through it.
 *
 * 1. `observe`: the soft state (role, leader, term) as of this Ready, for events.
 * 2. `send(rd.messages)`: what may leave before the write, the leader's appends above all (it
 *    replicates while its own fsync runs, thesis §10.2.1; it counts itself only once durable).
 * 3. `persist(rd)`: a snapshot from the leader first (`rd.snapshot`, which replaces the log),
 *    then the entries and hard state, durable (with an fsync when `rd.mustSync`); may be
 *    asynchronous, and nothing below happens before it is done.
 * 4. `send(rd.messagesAfterPersist)`: votes and acknowledgements, which promise step 3.
 * 5. `apply(rd)`: the state restored from `rd.snapshot` if there is one, then committed
 *    entries in order, once each, then the read states.
 * 6. `advance()`.
 *
 * A harness that must stop between steps 2 and 3 (a crash in the middle of a write) calls
 * `beginReady` and `finishReady` itself; everything else calls `carryOutReady`.
 *
 * The overlapped order, for a core made with `asyncStorageWrites` (thesis §10.2.1, etcd's
 * asynchronous storage writes): the next Ready is taken while earlier writes are under way.
 * A Ready's committed entries are then already durable here, so they need not wait for its
 * write. `beginOverlappedReady` does steps 1 and 2, begins step 3's write, does step 5 and
 * accepts the Ready; once its write and every earlier one are durable (a storage that
 * completes writes in the order begun), `finishOverlappedReady` does steps 4 and 6. A Ready
 * with a snapshot is not overlapped: carry it out whole (`carryOutReady`) once every earlier
 * Ready is finished, and take no other before it is.
 */
import { assert } from './assert.js';
import type { Message } from './messages.js';
import type { RawNode, Ready } from './raw-node.js';
import type { SoftState } from './types.js';

export interface ReadyHandler {
  observe?(soft: SoftState): void;
  send(messages: readonly Message[]): void;
  /** Makes `rd.snapshot`, `rd.entries` and `rd.hardState` durable; a promise holds the rest back. */
  persist(rd: Ready): void | Promise<void>;
  apply(rd: Ready): void;
  /** Asked after the write: false ends the Ready there, unadvanced (the node stopped). */
  proceed?(): boolean;
}

/** Steps 1 and 2: takes the next Ready and sends what may leave before its write. */
export function beginReady(raw: RawNode, handler: ReadyHandler): Ready {
  const rd = raw.ready();
  if (rd.softState !== null) handler.observe?.(rd.softState);
  handler.send(rd.messages);
  return rd;
}

/** Steps 4 to 6, once the Ready's write (step 3) is durable. */
export function finishReady(raw: RawNode, rd: Ready, handler: ReadyHandler): void {
  if (handler.proceed?.() === false) return;
  handler.send(rd.messagesAfterPersist);
  handler.apply(rd);
  raw.advance();
}

/**
 * The first half of the overlapped order (see above): sends what may leave, begins the write,
 * applies, and accepts. Returns the write's promise (undefined: nothing to wait for).
 * Not for a Ready with a snapshot: `carryOutReady` takes that one.
 */
export function beginOverlappedReady(
  raw: RawNode,
  handler: ReadyHandler,
): { readonly rd: Ready; readonly written: void | Promise<void> } {
  const rd = beginReady(raw, handler);
  assert(rd.snapshot === null, 'a Ready with a snapshot is carried out whole, not overlapped');
  const written = handler.persist(rd);
  handler.apply(rd);
  raw.accept();
  return { rd, written };
}

/** The second half: `rd`'s write and every earlier one are durable. */
export function finishOverlappedReady(raw: RawNode, rd: Ready, handler: ReadyHandler): void {
  if (handler.proceed?.() === false) return;
  handler.send(rd.messagesAfterPersist);
  raw.advance();
}

/**
 * Carries out the next Ready of `raw` in order. Synchronous when `persist` is; otherwise the
 * promise settles once the Ready is advanced (or rejects with the write's failure, unadvanced).
 */
export function carryOutReady(raw: RawNode, handler: ReadyHandler): void | Promise<void> {
  const rd = beginReady(raw, handler);
  const written = handler.persist(rd);
  if (written === undefined) {
    finishReady(raw, rd, handler);
    return;
  }
  return written.then(() => finishReady(raw, rd, handler));
}
