/**
 * @module
 * What a command entry's bytes hold: the state machine's command; for a proposal that a
 * follower forwarded, the follower's id, incarnation and request number, so that the follower
 * knows its own request when it applies the entry (the incarnation, random per start, keeps a
 * restarted node from taking an entry of its previous life for a new request of the same
 * number); and the leader's stamp of the log's time.
 *
 *     0 | command                                                   plain
 *     1 | u8 origin length | origin | u32 incarnation | f64 request | command     forwarded
 *     2 | f64 time | command                                        plain, stamped by the leader
 *     3 | f64 time | u8 origin length | origin | ...  | command     forwarded, stamped
 *
 * A follower forwards the unstamped form (1); the leader stamps it as it proposes it (3).
 * Entries written before stamps existed (0 and 1) carry no time.
 *
 * The log's time (`LogClock`) is the largest stamp of the entries applied so far. Only a
 * leader stamps, with the log time it knew plus what its own monotonic clock has measured
 * since (`LeaderClock`): no node's wall clock is ever read, so no clock setting, however
 * wrong, moves the log's time; a leader whose clock runs fast moves it faster only while it
 * leads, at its clock's rate. Every node applies the same stamps, so the time is the same
 * everywhere at each index: a state machine may decide expiry by it deterministically.
 */
import { describeData } from '../storage/index.js';
import { MAX_ID_BYTES } from '../transport/index.js';

const PLAIN = 0;
const TAGGED = 1;
/** Added to an envelope's tag when it carries the leader's time. */
const STAMPED = 2;
/** The node's own entry naming the cluster's identity (not the state machine's). */
const CLUSTER_IDENTITY = 4;

/** Longest cluster identity, in bytes of UTF-8. */
export const MAX_CLUSTER_IDENTITY_BYTES = 64;

/** The largest envelope: tag, time, origin of MAX_ID_BYTES, incarnation, request number. */
export const COMMAND_ENVELOPE_BYTES = 1 + 8 + 1 + MAX_ID_BYTES + 4 + 8;

export interface Command {
  readonly payload: Uint8Array;
  /** The follower that forwarded it and its request number; null for the leader's own. */
  readonly origin: string | null;
  readonly incarnation: number;
  readonly request: number;
  /** The leader's stamp of the log's time, in milliseconds; null if it carries none. */
  readonly time: number | null;
}

export function encodePlain(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.byteLength);
  out[0] = PLAIN;
  out.set(payload, 1);
  return out;
}

/** The leader's own command, stamped with the log's `time`. */
export function encodeStamped(payload: Uint8Array, time: number): Uint8Array {
  const out = Buffer.allocUnsafe(9 + payload.byteLength);
  out[0] = PLAIN + STAMPED;
  out.writeDoubleBE(time, 1);
  out.set(payload, 9);
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

/** A forwarded (unstamped) envelope, stamped by the leader with the log's `time`. */
export function stamp(data: Uint8Array, time: number): Uint8Array {
  const out = Buffer.allocUnsafe(data.byteLength + 8);
  out[0] = (data[0] as number) + STAMPED;
  out.writeDoubleBE(time, 1);
  out.set(data.subarray(1), 9);
  return out;
}

/**
 * The entry a cluster's first leader writes once (see `RaftNode`): the identity the cluster
 * drew when it formed. Every node that applies it knows its cluster from then on.
 */
export function encodeClusterIdentity(identity: string): Uint8Array {
  const text = Buffer.from(identity, 'utf8');
  const out = new Uint8Array(1 + text.length);
  out[0] = CLUSTER_IDENTITY;
  out.set(text, 1);
  return out;
}

/** The cluster identity an entry names, or null if it is no such entry (or a malformed one). */
export function clusterIdentityOf(data: Uint8Array): string | null {
  if (data[0] !== CLUSTER_IDENTITY || data.byteLength < 2) return null;
  if (data.byteLength > 1 + MAX_CLUSTER_IDENTITY_BYTES) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(1));
  } catch {
    return null;
  }
}

/** The command in an entry's bytes, or a reason why they are not one. */
export function decodeCommand(data: Uint8Array): Command | string {
  if (data.byteLength === 0) return 'empty command entry';
  const tag = data[0] as number;
  if (tag > TAGGED + STAMPED) return `unknown command envelope ${tag}`;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let at = 1;
  let time: number | null = null;
  if (tag >= STAMPED) {
    if (data.byteLength < 9) return 'truncated command envelope';
    time = buf.readDoubleBE(1);
    if (!Number.isSafeInteger(time) || time < 0) return 'bad time in envelope';
    at = 9;
  }
  if (tag % STAMPED === PLAIN) {
    return { payload: data.subarray(at), origin: null, incarnation: 0, request: 0, time };
  }
  if (data.byteLength < at + 1) return 'truncated command envelope';
  const idLength = data[at] as number;
  const after = at + 1 + idLength;
  if (data.byteLength < after + 12 || idLength === 0) return 'truncated command envelope';
  const request = buf.readDoubleBE(after + 4);
  if (!Number.isSafeInteger(request) || request < 0) return 'bad request number in envelope';
  return {
    payload: data.subarray(after + 12),
    origin: buf.toString('utf8', at + 1, after),
    incarnation: buf.readUInt32BE(after),
    request,
    time,
  };
}

/** An entry's command as a person reads it (for `raftkit inspect`): its origin, and its bytes. */
export function describeCommand(data: Uint8Array): Record<string, unknown> {
  const cluster = clusterIdentityOf(data);
  if (cluster !== null) return { cluster };
  const command = decodeCommand(data);
  if (typeof command === 'string') {
    return { invalid: command, base64: Buffer.from(data).toString('base64') };
  }
  const origin =
    command.origin === null ? {} : { origin: command.origin, request: command.request };
  const time = command.time === null ? {} : { time: command.time };
  return { ...origin, ...time, ...describeData(command.payload) };
}

/** The log's time as entries are applied: the largest stamp so far (it never goes back). */
export class LogClock {
  #time = 0;

  get time(): number {
    return this.#time;
  }

  /** The log's time at a snapshot's index: restored with the snapshot. */
  restore(time: number): void {
    this.#time = time;
  }

  /** The log's time once `command` is applied. */
  observe(command: Command): number {
    if (command.time !== null && command.time > this.#time) this.#time = command.time;
    return this.#time;
  }
}

/**
 * A leader's stamps: the log time it started from, plus the milliseconds its monotonic clock
 * has measured since. When the log's time is found ahead (entries of the previous leader
 * applied after it took over), it starts again from there, so its stamps never lag the log's
 * time and never run ahead of what it has itself measured.
 */
export class LeaderClock {
  #base: number;
  #baseAt: number;

  constructor(logTime: number, now: number) {
    this.#base = logTime;
    this.#baseAt = now;
  }

  stamp(logTime: number, now: number): number {
    const measured = this.#base + Math.max(0, now - this.#baseAt);
    if (logTime >= measured) {
      this.#base = logTime;
      this.#baseAt = now;
      return logTime;
    }
    return Math.floor(measured);
  }
}
