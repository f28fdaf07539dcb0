/**
 * @module
 * The window of AppendEntries a leader has sent to one follower and not yet seen acknowledged.
 * Bounded in messages and in bytes: when full, the leader stops sending to that follower until
 * acknowledgements free room (flow control for a slow follower).
 *
 * The bound in messages is a window that closes to a few messages when the follower rejects
 * one (a loss, or messages overtaking each other) and opens again by one message per message
 * acknowledged, up to `maxMessages` (TCP's slow start). Without it, a leader on a network that
 * reorders resent its whole window after every rejection and every recovery: the simulator saw
 * 150,000 events in a virtual second for a follower 280 entries behind (seed 1635603094).
 */
import { assert } from './assert.js';

/** The window after a rejection, in messages. */
const RESTART_WINDOW = 4;

export class Inflights {
  readonly maxMessages: number;
  readonly maxBytes: number;
  // A ring buffer of (last index, size) pairs, oldest at `#start`.
  readonly #lastIndexes: number[];
  readonly #sizes: number[];
  #start = 0;
  #count = 0;
  #bytes = 0;
  /** Messages that may be in flight now (see the module). */
  #window: number;

  constructor(maxMessages: number, maxBytes: number) {
    assert(maxMessages > 0, 'inflight window needs room for one message');
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.#lastIndexes = new Array<number>(maxMessages).fill(0);
    this.#sizes = new Array<number>(maxMessages).fill(0);
    this.#window = maxMessages;
  }

  /** Messages that may be in flight now: `maxMessages`, or fewer after a rejection. */
  get window(): number {
    return this.#window;
  }

  /** A message was rejected: the window closes to a few messages. */
  shrink(): void {
    this.#window = Math.min(this.maxMessages, RESTART_WINDOW);
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  full(): boolean {
    return this.#count >= this.#window || this.#bytes >= this.maxBytes;
  }

  /** Records a message whose last entry is `lastIndex`. Indexes must increase. */
  add(lastIndex: number, sizeBytes: number): void {
    assert(!this.full(), 'inflight window overflow');
    if (this.#count > 0) {
      const newest = this.#lastIndexes[this.#slot(this.#count - 1)] as number;
      assert(lastIndex > newest, () => `inflight index ${lastIndex} after ${newest}`);
    }
    const slot = this.#slot(this.#count);
    this.#lastIndexes[slot] = lastIndex;
    this.#sizes[slot] = sizeBytes;
    this.#count++;
    this.#bytes += sizeBytes;
  }

  /** Frees every message whose last index is at or below `index` (acknowledged). */
  freeTo(index: number): void {
    while (this.#count > 0 && (this.#lastIndexes[this.#start] as number) <= index) {
      this.#freeOldest();
      if (this.#window < this.maxMessages) this.#window++;
    }
  }

  /** Frees the oldest message, so a window whose acknowledgements were lost can move again. */
  freeFirst(): void {
    if (this.#count > 0) this.#freeOldest();
  }

  reset(): void {
    this.#start = 0;
    this.#count = 0;
    this.#bytes = 0;
  }

  #freeOldest(): void {
    this.#bytes -= this.#sizes[this.#start] as number;
    this.#start = (this.#start + 1) % this.maxMessages;
    this.#count--;
  }

  #slot(offset: number): number {
    return (this.#start + offset) % this.maxMessages;
  }
}
