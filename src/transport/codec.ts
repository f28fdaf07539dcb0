/**
 * @module
 * The wire codec: a hand-made binary layout, versioned and validated.
 *
 * A message body is `u8 version | u32 clusterTag | u32 formationTag | u8 type | from | to |
 * fields`. The cluster tag is the configured cluster id's (`--cluster-id`, default
 * `raftkit`); the formation tag is that of the identity the cluster drew when it first formed
 * (0 until a node has learnt it), so that two clusters of the same name are told apart. Ids are a u8
 * length and UTF-8, integers are float64 (exact up to 2^53, checked on decode). An append
 * carries its entries as `term | kind | u32 length | bytes`; their indices follow from
 * `prevIndex`, so they cannot be out of order on the wire.
 *
 * `decodeMessage` never throws: anything short, long, unknown or impossible comes back as a
 * `DecodeFailure` naming the reason, which the transport counts and drops. A decoded Raft
 * message has also passed the core's `checkMessageShape`.
 */
import { createHash } from 'node:crypto';
import { checkMessageShape, type Entry, type Message, proposalDropReasons } from '../core/index.js';
import { MAX_ID_BYTES, MAX_TEXT_BYTES, type RefusalCode, type WireMessage } from './wire.js';

export const WIRE_VERSION = 2;

/** Bytes before the fields: version, cluster tag, formation tag, type. */
const HEADER_BYTES = 10;

/** The formation tag of a node that has not yet learnt its cluster's identity. */
export const UNBOUND_FORMATION = 0;

/** The first message on a stream connection: who is dialling whom. */
export interface Hello {
  readonly type: 'hello';
  readonly from: string;
  readonly to: string;
}

export type Frame = WireMessage | Hello;

export type DecodeReason = 'truncated' | 'version' | 'cluster' | 'invalid';

export interface DecodeFailure {
  readonly reason: DecodeReason;
  readonly detail: string;
}

const typeCodes = {
  append: 1,
  'append-response': 2,
  heartbeat: 3,
  'heartbeat-response': 4,
  vote: 5,
  'vote-response': 6,
  'timeout-now': 7,
  'read-index': 8,
  'read-index-response': 9,
  hello: 16,
  forward: 17,
  'forward-refusal': 18,
} as const satisfies Record<Frame['type'], number>;

const typeNames = new Map<number, Frame['type']>(
  Object.entries(typeCodes).map(([name, code]) => [code, name as Frame['type']]),
);

const refusalCodes: readonly RefusalCode[] = [
  'RAFT_NOT_LEADER',
  'RAFT_PROPOSAL_DROPPED',
  'RAFT_OVERLOADED',
];

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character. */
function cutText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** A cluster id reduced to four bytes: frames from another cluster are told apart cheaply. */
export function clusterTag(clusterId: string): number {
  return createHash('sha256').update(clusterId).digest().readUInt32BE(0);
}

/** A cluster's formation identity reduced to four bytes, never `UNBOUND_FORMATION`. */
export function formationTag(identity: string): number {
  return clusterTag(`formation:${identity}`) || 1;
}

// -------------------------------------------------------------------------------------------
// Encoding

/** Encodes one message (or hello). Throws only on a caller's bug: an id too long to carry. */
export function encodeMessage(m: Frame, tag: number, formation = UNBOUND_FORMATION): Buffer {
  const from = Buffer.from(m.from, 'utf8');
  const to = Buffer.from(m.to, 'utf8');
  if (from.length > MAX_ID_BYTES || to.length > MAX_ID_BYTES) {
    throw new RangeError(`node ids are limited to ${MAX_ID_BYTES} bytes`);
  }
  const w = new Writer(HEADER_BYTES + 2 + from.length + to.length + fieldsSize(m));
  w.u8(WIRE_VERSION);
  w.u32(tag);
  w.u32(formation);
  w.u8(typeCodes[m.type]);
  w.u8(from.length);
  w.bytes(from);
  w.u8(to.length);
  w.bytes(to);
  writeFields(w, m);
  return w.done();
}

function fieldsSize(m: Frame): number {
  switch (m.type) {
    case 'append': {
      let size = 8 * 4 + 4;
      for (const e of m.entries) size += 8 + 1 + 4 + e.data.byteLength;
      return size;
    }
    case 'append-response':
      return 8 + 1 + 8 * 3;
    case 'heartbeat':
      return 8 * 3;
    case 'heartbeat-response':
      return 8 * 2;
    case 'vote':
      return 8 + 1 + 8 * 2;
    case 'vote-response':
      return 8 + 1;
    case 'timeout-now':
      return 8;
    case 'read-index':
      return 8 + 2 + Buffer.byteLength(m.context);
    case 'read-index-response':
      return 8 + 2 + Buffer.byteLength(m.context) + 8;
    case 'hello':
      return 0;
    case 'forward': {
      let size = 8 + 8 + 4;
      for (const c of m.commands) size += 4 + c.byteLength;
      return size;
    }
    case 'forward-refusal':
      return (
        8 +
        2 +
        1 +
        Buffer.byteLength(m.limit ?? '') +
        2 +
        Buffer.byteLength(cutText(m.detail, MAX_TEXT_BYTES)) +
        1 +
        Buffer.byteLength(m.leader ?? '') +
        8
      );
  }
}

function writeFields(w: Writer, m: Frame): void {
  switch (m.type) {
    case 'append':
      w.f64(m.term);
      w.f64(m.prevIndex);
      w.f64(m.prevTerm);
      w.f64(m.commit);
      w.u32(m.entries.length);
      for (const e of m.entries) {
        w.f64(e.term);
        w.u8(e.kind === 'command' ? 1 : 0);
        w.u32(e.data.byteLength);
        w.bytes(e.data);
      }
      return;
    case 'append-response':
      w.f64(m.term);
      w.u8(m.success ? 1 : 0);
      w.f64(m.index);
      w.f64(m.hintIndex);
      w.f64(m.hintTerm);
      return;
    case 'heartbeat':
      w.f64(m.term);
      w.f64(m.commit);
      w.f64(m.round);
      return;
    case 'heartbeat-response':
      w.f64(m.term);
      w.f64(m.round);
      return;
    case 'vote':
      w.f64(m.term);
      w.u8((m.preVote ? 1 : 0) | (m.transfer ? 2 : 0));
      w.f64(m.lastIndex);
      w.f64(m.lastTerm);
      return;
    case 'vote-response':
      w.f64(m.term);
      w.u8((m.preVote ? 1 : 0) | (m.granted ? 2 : 0));
      return;
    case 'timeout-now':
      w.f64(m.term);
      return;
    case 'read-index':
      w.f64(m.term);
      w.text16(m.context);
      return;
    case 'read-index-response':
      w.f64(m.term);
      w.text16(m.context);
      w.f64(m.index);
      return;
    case 'hello':
      return;
    case 'forward':
      w.f64(m.id);
      w.f64(m.term);
      w.u32(m.commands.length);
      for (const c of m.commands) {
        w.u32(c.byteLength);
        w.bytes(c);
      }
      return;
    case 'forward-refusal': {
      w.f64(m.id);
      w.u8(refusalCodes.indexOf(m.code) + 1);
      w.u8(m.reason === null ? 0 : proposalDropReasons.indexOf(m.reason) + 1);
      w.text8(m.limit ?? '');
      // A detail longer than the limit is cut at a character boundary, so it stays UTF-8.
      w.text16(cutText(m.detail, MAX_TEXT_BYTES));
      w.text8(m.leader ?? '');
      w.f64(m.term);
      return;
    }
  }
}

class Writer {
  readonly #buf: Buffer;
  #at = 0;

  constructor(size: number) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  u8(v: number): void {
    this.#buf[this.#at++] = v;
  }

  u16(v: number): void {
    this.#at = this.#buf.writeUInt16BE(v, this.#at);
  }

  u32(v: number): void {
    this.#at = this.#buf.writeUInt32BE(v >>> 0, this.#at);
  }

  f64(v: number): void {
    this.#at = this.#buf.writeDoubleBE(v, this.#at);
  }

  bytes(b: Uint8Array): void {
    this.#buf.set(b, this.#at);
    this.#at += b.byteLength;
  }

  text8(s: string): void {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new RangeError(`text of ${b.length} bytes where 255 fit`);
    this.u8(b.length);
    this.bytes(b);
  }

  text16(s: string): void {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 0xffff) throw new RangeError(`text of ${b.length} bytes where 65535 fit`);
    this.u16(b.length);
    this.bytes(b);
  }

  done(): Buffer {
    if (this.#at !== this.#buf.length) {
      throw new RangeError(`encoder wrote ${this.#at} of ${this.#buf.length} bytes`);
    }
    return this.#buf;
  }
}

// -------------------------------------------------------------------------------------------
// Decoding

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Truncated extends Error {}
class Invalid extends Error {}

/**
 * Decodes one body. `tag` is this cluster's: a body with another is refused. So is one of
 * another formation, when both sides know theirs (a node that does not yet know it accepts
 * any, and is accepted: it has no state of another cluster to bring).
 */
export function decodeMessage(
  body: Uint8Array,
  tag: number,
  formation = UNBOUND_FORMATION,
): Frame | DecodeFailure {
  const r = new Reader(body);
  try {
    if (body.length < HEADER_BYTES) throw new Truncated(`${body.length}-byte body`);
    const version = r.u8();
    if (version !== WIRE_VERSION) {
      return { reason: 'version', detail: `wire version ${version}, expected ${WIRE_VERSION}` };
    }
    const theirs = r.u32();
    if (theirs !== tag) return { reason: 'cluster', detail: 'frame from another cluster' };
    const theirFormation = r.u32();
    if (
      formation !== UNBOUND_FORMATION &&
      theirFormation !== UNBOUND_FORMATION &&
      theirFormation !== formation
    ) {
      return {
        reason: 'cluster',
        detail: `frame from another cluster of the same name (formation ${hex(theirFormation)}, this one is ${hex(formation)}): a node started with another cluster's data?`,
      };
    }
    const code = r.u8();
    const type = typeNames.get(code);
    if (type === undefined) throw new Invalid(`unknown message type ${code}`);
    const from = r.text8();
    const to = r.text8();
    const frame = readFields(r, type, from, to);
    if (!r.atEnd()) throw new Invalid(`${r.remaining()} bytes after a ${type} message`);
    const problem = checkFrame(frame);
    if (problem !== undefined) throw new Invalid(problem);
    return frame;
  } catch (e) {
    if (e instanceof Truncated) return { reason: 'truncated', detail: e.message };
    if (e instanceof Invalid) return { reason: 'invalid', detail: e.message };
    throw e;
  }
}

function hex(tag: number): string {
  return tag.toString(16).padStart(8, '0');
}

export function isDecodeFailure(v: Frame | DecodeFailure): v is DecodeFailure {
  // Every frame has a type, and a failure none (a refusal has a `reason` field of its own).
  return !('type' in v);
}

function readFields(r: Reader, type: Frame['type'], from: string, to: string): Frame {
  switch (type) {
    case 'append': {
      const term = r.int();
      const prevIndex = r.int();
      const prevTerm = r.int();
      const commit = r.int();
      const count = r.u32();
      // Each entry takes at least 13 bytes: a count beyond that is a lie, caught before allocating.
      if (count * 13 > r.remaining()) throw new Truncated(`${count} entries announced`);
      const entries: Entry[] = new Array(count);
      for (let i = 0; i < count; i++) {
        const entryTerm = r.int();
        const kind = r.u8();
        if (kind > 1) throw new Invalid(`entry kind ${kind}`);
        const data = r.bytes(r.u32());
        entries[i] = {
          index: prevIndex + 1 + i,
          term: entryTerm,
          kind: kind === 1 ? 'command' : 'noop',
          data,
        };
      }
      return { type, from, to, term, prevIndex, prevTerm, commit, entries };
    }
    case 'append-response':
      return {
        type,
        from,
        to,
        term: r.int(),
        success: r.bool(),
        index: r.int(),
        hintIndex: r.int(),
        hintTerm: r.int(),
      };
    case 'heartbeat':
      return { type, from, to, term: r.int(), commit: r.int(), round: r.int() };
    case 'heartbeat-response':
      return { type, from, to, term: r.int(), round: r.int() };
    case 'vote': {
      const term = r.int();
      const flags = r.flags(3);
      return {
        type,
        from,
        to,
        term,
        preVote: (flags & 1) !== 0,
        transfer: (flags & 2) !== 0,
        lastIndex: r.int(),
        lastTerm: r.int(),
      };
    }
    case 'vote-response': {
      const term = r.int();
      const flags = r.flags(3);
      return { type, from, to, term, preVote: (flags & 1) !== 0, granted: (flags & 2) !== 0 };
    }
    case 'timeout-now':
      return { type, from, to, term: r.int() };
    case 'read-index':
      return { type, from, to, term: r.int(), context: r.text16() };
    case 'read-index-response':
      return { type, from, to, term: r.int(), context: r.text16(), index: r.int() };
    case 'hello':
      return { type, from, to };
    case 'forward': {
      const id = r.int();
      const term = r.int();
      const count = r.u32();
      if (count * 4 > r.remaining()) throw new Truncated(`${count} commands announced`);
      const commands: Uint8Array[] = new Array(count);
      for (let i = 0; i < count; i++) commands[i] = r.bytes(r.u32());
      return { type, from, to, id, term, commands };
    }
    case 'forward-refusal': {
      const id = r.int();
      const code = refusalCodes[r.u8() - 1];
      if (code === undefined) throw new Invalid('forward-refusal: unknown code');
      const reasonCode = r.u8();
      const reason = reasonCode === 0 ? null : proposalDropReasons[reasonCode - 1];
      if (reason === undefined) throw new Invalid(`forward-refusal: unknown reason ${reasonCode}`);
      const limit = r.text8();
      const detail = r.text16();
      const leader = r.text8();
      return {
        type,
        from,
        to,
        id,
        code,
        reason,
        limit: limit === '' ? null : limit,
        detail,
        leader: leader === '' ? null : leader,
        term: r.int(),
      };
    }
  }
}

/** Meaning checks beyond the layout: the core's for Raft messages, ours for the rest. */
function checkFrame(f: Frame): string | undefined {
  if (f.from === '' || f.to === '') return `${f.type}: empty sender or receiver`;
  switch (f.type) {
    case 'hello':
      return f.from === f.to ? 'hello from a node to itself' : undefined;
    case 'forward':
      if (f.commands.length === 0) return 'forward: no commands';
      return f.from === f.to ? 'forward: sent to itself' : undefined;
    case 'forward-refusal':
      // Each code carries exactly its own field: a drop its reason, an overload its limit.
      if ((f.code === 'RAFT_PROPOSAL_DROPPED') !== (f.reason !== null)) {
        return 'forward-refusal: a reason belongs to a dropped proposal, and only there';
      }
      if ((f.code === 'RAFT_OVERLOADED') !== (f.limit !== null)) {
        return 'forward-refusal: a limit belongs to an overload, and only there';
      }
      return Buffer.byteLength(f.detail) > MAX_TEXT_BYTES
        ? 'forward-refusal: detail too long'
        : undefined;
    default:
      return checkMessageShape(f as Message);
  }
}

class Reader {
  readonly #buf: Buffer;
  #at = 0;

  constructor(body: Uint8Array) {
    this.#buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  remaining(): number {
    return this.#buf.length - this.#at;
  }

  atEnd(): boolean {
    return this.#at === this.#buf.length;
  }

  #need(n: number): void {
    if (this.#at + n > this.#buf.length) {
      throw new Truncated(`needed ${n} bytes at offset ${this.#at} of ${this.#buf.length}`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#at++] as number;
  }

  u16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16BE(this.#at);
    this.#at += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  /** A non-negative integer carried as float64: NaN, fractions and beyond 2^53 are invalid. */
  int(): number {
    this.#need(8);
    const v = this.#buf.readDoubleBE(this.#at);
    this.#at += 8;
    if (!Number.isSafeInteger(v) || v < 0) throw new Invalid(`${v} is not a valid integer`);
    return v;
  }

  bool(): boolean {
    return this.flags(1) === 1;
  }

  flags(mask: number): number {
    const v = this.u8();
    if ((v & ~mask) !== 0) throw new Invalid(`flags ${v} outside ${mask}`);
    return v;
  }

  /** A copy: a decoded entry must not pin the whole receive buffer in memory. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = new Uint8Array(n);
    out.set(this.#buf.subarray(this.#at, this.#at + n));
    this.#at += n;
    return out;
  }

  #text(n: number): string {
    this.#need(n);
    const raw = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    // Invalid UTF-8 would decode with replacement characters: refuse rather than alter an id.
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new Invalid('text is not UTF-8');
    }
  }

  text8(): string {
    return this.#text(this.u8());
  }

  text16(): string {
    return this.#text(this.u16());
  }
}
