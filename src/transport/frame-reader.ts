/**
 * @module
 * Length-prefixed framing on a byte stream: `u32 length | body`. Bodies are cut out of the
 * chunks the socket delivers, however they are split. A length of zero or beyond the limit
 * cannot be resynchronised (the next prefix is lost), so the reader fails for good and the
 * connection must close. Nothing is allocated for a body before its bytes have arrived.
 */

export const LENGTH_PREFIX_BYTES = 4;

export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`frame of ${length} bytes announced (limit ${limit})`);
  }
}

export class FrameReader {
  readonly #maxBodyBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed: FrameTooLargeError | null = null;

  constructor(maxBodyBytes: number) {
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Bytes received and not yet returned as a body. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds a chunk and returns every body it completes. Throws FrameTooLargeError for good. */
  push(chunk: Buffer): Buffer[] {
    if (this.#failed !== null) throw this.#failed;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const bodies: Buffer[] = [];
    while (this.#buffered >= LENGTH_PREFIX_BYTES) {
      const length = this.#peekLength();
      if (length === 0 || length > this.#maxBodyBytes) {
        this.#failed = new FrameTooLargeError(length, this.#maxBodyBytes);
        throw this.#failed;
      }
      if (this.#buffered < LENGTH_PREFIX_BYTES + length) break;
      this.#take(LENGTH_PREFIX_BYTES);
      bodies.push(this.#take(length));
    }
    return bodies;
  }

  #peekLength(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= LENGTH_PREFIX_BYTES) return first.readUInt32BE(0);
    return this.#take(LENGTH_PREFIX_BYTES, true).readUInt32BE(0);
  }

  /** The next `n` buffered bytes, removed unless `peek`. One chunk's slice when possible. */
  #take(n: number, peek = false): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (peek) return first.subarray(0, n);
      this.#buffered -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.#chunks[i] as Buffer;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (peek) {
        i++;
        continue;
      }
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    if (!peek) this.#buffered -= n;
    return out;
  }
}

/** `u32 length | body` for one body. */
export function lengthPrefix(body: Uint8Array): Buffer {
  const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
  prefix.writeUInt32BE(body.byteLength, 0);
  return prefix;
}
