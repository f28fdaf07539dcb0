/**
 * @module
 * Pre-shared-key protection of every frame, for TCP and UDP alike: AES-256-GCM, with a key
 * derived by HKDF-SHA256 from the shared secret and the cluster id. A sealed frame is
 * `nonce (12) | ciphertext | tag (16)`; the cluster id is authenticated data, so a frame from
 * a cluster with another id, or sealed with another secret, fails to open.
 *
 * Nonces are a random 4-byte prefix, fixed per cipher, and an 8-byte counter: unique without
 * asking the system for randomness on every frame. A replayed frame opens fine; Raft is safe
 * under duplicated and delayed messages, so replay only costs bandwidth.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const SEAL_OVERHEAD_BYTES = 12 + 16;

export class FrameCipher {
  readonly #key: Buffer;
  readonly #aad: Buffer;
  readonly #nonce = Buffer.alloc(12);
  #counter = 0n;

  constructor(secret: string | Uint8Array, clusterId: string) {
    if ((typeof secret === 'string' ? Buffer.byteLength(secret) : secret.byteLength) < 16) {
      throw new RangeError('the shared secret must be at least 16 bytes');
    }
    this.#key = Buffer.from(hkdfSync('sha256', secret, clusterId, 'raftkit frame key v1', 32));
    this.#aad = Buffer.from(`raftkit/1/${clusterId}`, 'utf8');
    randomBytes(4).copy(this.#nonce, 0);
  }

  seal(body: Uint8Array): Buffer {
    this.#counter++;
    this.#nonce.writeBigUInt64BE(this.#counter, 4);
    const cipher = createCipheriv('aes-256-gcm', this.#key, this.#nonce);
    cipher.setAAD(this.#aad);
    const out = Buffer.allocUnsafe(body.byteLength + SEAL_OVERHEAD_BYTES);
    this.#nonce.copy(out, 0);
    let at = 12 + cipher.update(body).copy(out, 12);
    at += cipher.final().copy(out, at);
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /** The body, or null when the frame is short, altered, or sealed with another key. */
  open(sealed: Uint8Array): Buffer | null {
    if (sealed.byteLength < SEAL_OVERHEAD_BYTES) return null;
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, buf.subarray(0, 12));
      decipher.setAAD(this.#aad);
      decipher.setAuthTag(buf.subarray(buf.length - 16));
      const head = decipher.update(buf.subarray(12, buf.length - 16));
      const tail = decipher.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      return null;
    }
  }
}
