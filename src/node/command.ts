/**
 * @module
 * What a command entry's bytes hold: the state machine's command, and for a proposal that a
 * follower forwarded, the follower's id, incarnation and request number, so that the follower
 * knows its own request when it applies the entry. The incarnation (random per start) keeps a
 * restarted node from taking an entry of its previous life, replayed from the log, for a new
 * request that happens to have the same number.
 *
 * `0 | command` or `1 | u8 origin length | origin | u32 incarnation | f64 request | command`.
 */
import { describeData } from '../storage/index.js';
import { MAX_ID_BYTES } from '../transport/index.js';

const PLAIN = 0;
const TAGGED = 1;

/** The largest envelope: tag byte, origin of MAX_ID_BYTES, incarnation, request number. */
export const COMMAND_ENVELOPE_BYTES = 1 + 1 + MAX_ID_BYTES + 4 + 8;

export interface Command {
  readonly payload: Uint8Array;
  /** The follower that forwarded it and its request number; null for the leader's own. */
  readonly origin: string | null;
  readonly incarnation: number;
  readonly request: number;
}

export function encodePlain(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.byteLength);
  out[0] = PLAIN;
  out.set(payload, 1);
  return out;
}

export function encodeTagged(
  payload: Uint8Array,
  origin: string,
  incarnation: number,
  request: number,
): Uint8Array {
  const id = Buffer.from(origin, 'utf8');
  const at = 2 + id.length;
  const out = Buffer.allocUnsafe(at + 12 + payload.byteLength);
  out[0] = TAGGED;
  out[1] = id.length;
  id.copy(out, 2);
  out.writeUInt32BE(incarnation, at);
  out.writeDoubleBE(request, at + 4);
  out.set(payload, at + 12);
  return out;
}

/** The command in an entry's bytes, or a reason why they are not one. */
export function decodeCommand(data: Uint8Array): Command | string {
  if (data.byteLength === 0) return 'empty command entry';
  if (data[0] === PLAIN) {
    return { payload: data.subarray(1), origin: null, incarnation: 0, request: 0 };
  }
  if (data[0] !== TAGGED) return `unknown command envelope ${data[0]}`;
  if (data.byteLength < 2) return 'truncated command envelope';
  const idLength = data[1] as number;
  const at = 2 + idLength;
  if (data.byteLength < at + 12 || idLength === 0) return 'truncated command envelope';
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const request = buf.readDoubleBE(at + 4);
  if (!Number.isSafeInteger(request) || request < 0) return 'bad request number in envelope';
  return {
    payload: data.subarray(at + 12),
    origin: buf.toString('utf8', 2, at),
    incarnation: buf.readUInt32BE(at),
    request,
  };
}

/** An entry's command as a person reads it (for `raftkit inspect`): its origin, and its bytes. */
export function describeCommand(data: Uint8Array): Record<string, unknown> {
  const command = decodeCommand(data);
  if (typeof command === 'string') {
    return { invalid: command, base64: Buffer.from(data).toString('base64') };
  }
  const origin =
    command.origin === null ? {} : { origin: command.origin, request: command.request };
  return { ...origin, ...describeData(command.payload) };
}
