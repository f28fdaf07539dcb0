/**
 * @module
 * The wire codec: a hand-made binary layout, versioned and validated.
 *
 * A message body is `u8 version | u32 clusterTag | u32 formationTag | u8 type | from | to |
 * fields`. The cluster tag is the configured cluster id's (`--cluster-id`, default
 * `raftkit`); the formation tag is that of the identity the cluster drew when it first formed
 * (0 until a node has learnt it), so that two clusters of the same name are told apart. Ids
 * are a u8 length and UTF-8. Each frame type's fields are declared once, in
 * `wire-layout.ts`, with kinds from `wire-fields.ts`; encoding, decoding and size follow.
 *
 * `decodeMessage` never throws: anything short, long, unknown or impossible comes back as a
 * `DecodeFailure` naming the reason, which the transport counts and drops. A decoded Raft
 * message has also passed the core's `checkMessageShape`.
 */
import { createHash } from 'node:crypto';
import { checkMessageShape, checkSnapshotMeta, type Message } from '../core/index.js';
import { MAX_ID_BYTES, MAX_TEXT_BYTES, type WireMessage } from './wire.js';
import { type Field, Invalid, Reader, Truncated, Writer } from './wire-fields.js';
import { layouts } from './wire-layout.js';

export const WIRE_VERSION = 3;

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

const typeNames = new Map<number, Frame['type']>(
  Object.entries(layouts).map(([name, layout]) => [layout.code, name as Frame['type']]),
);

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
  const layout = layoutOf(m.type);
  const values = m as unknown as Record<string, unknown>;
  let size = HEADER_BYTES + 2 + from.length + to.length;
  for (const [name, field] of layout) size += field.size(values[name]);
  const w = new Writer(size);
  w.u8(WIRE_VERSION);
  w.u32(tag);
  w.u32(formation);
  w.u8(layouts[m.type].code);
  w.u8(from.length);
  w.bytes(from);
  w.u8(to.length);
  w.bytes(to);
  for (const [name, field] of layout) field.write(w, values[name]);
  return w.done();
}

type AnyField = Field<unknown>;

/** A frame type's fields as [name, kind] pairs, in wire order (computed once per type). */
const fieldLists = new Map<Frame['type'], readonly (readonly [string, AnyField])[]>(
  Object.entries(layouts).map(([type, layout]) => [
    type as Frame['type'],
    Object.entries(layout.fields as Record<string, AnyField>),
  ]),
);

function layoutOf(type: Frame['type']): readonly (readonly [string, AnyField])[] {
  return fieldLists.get(type) as readonly (readonly [string, AnyField])[];
}

// -------------------------------------------------------------------------------------------
// Decoding

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
    const from = r.text(r.u8());
    const to = r.text(r.u8());
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
  const frame: Record<string, unknown> = { type, from, to };
  for (const [name, field] of layoutOf(type)) {
    try {
      frame[name] = field.read(r, frame);
    } catch (e) {
      // The field's name makes the reason readable: "vote.preVote: boolean 7".
      if (e instanceof Invalid) throw new Invalid(`${type}.${name}: ${e.message}`);
      throw e;
    }
  }
  return frame as unknown as Frame;
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
    case 'snapshot-chunk':
      return (
        checkSnapshotMeta(f.snapshot) ?? (f.from === f.to ? 'snapshot-chunk: to itself' : undefined)
      );
    case 'snapshot-ack':
      return f.index === 0 ? 'snapshot-ack: index 0' : undefined;
    case 'member-request':
      return f.from === f.to ? 'member-request: sent to itself' : undefined;
    case 'member-reply':
      return (f.code === 'ok') !== (f.detail === '')
        ? 'member-reply: a detail belongs to a failure, and only there'
        : undefined;
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
