/**
 * @module
 * How replicated values become bytes in the log. JSON by default; raftos let you pick JSON or
 * MessagePack, and any codec with these two functions will do (msgpackr's `pack`/`unpack`, for
 * one). A codec must be deterministic enough that every node decodes the same value.
 */

export interface ValueCodec {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: ValueCodec = {
  encode(value: unknown): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(value));
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(utf8.decode(bytes));
  },
};

/**
 * Throws a TypeError unless `value` is JSON data that survives a round trip unchanged: no
 * undefined, functions, symbols, bigints, non-finite numbers, cycles or class instances.
 */
export function checkJsonValue(value: unknown, path = 'value', seen = new Set<object>()): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is ${value}, which JSON cannot hold`);
    return;
  }
  if (typeof value !== 'object') throw new TypeError(`${path} is a ${typeof value}, not JSON data`);
  if (seen.has(value)) throw new TypeError(`${path} refers back to itself`);
  seen.add(value);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) checkJsonValue(v, `${path}[${i}]`, seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `${path} is a ${proto?.constructor?.name ?? 'class'} instance, not plain data`,
      );
    }
    for (const [k, v] of Object.entries(value)) checkJsonValue(v, `${path}.${k}`, seen);
  }
  seen.delete(value);
}
