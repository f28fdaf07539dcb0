/**
 * @module
 * Every frame's fields, declared once: its type code, and its fields in wire order with their
 * kinds. The codec derives encoding, decoding, size and the layout checks from this table, and
 * the compiler checks it is whole: every frame type has a layout, and every field of a frame
 * (and nothing else) is in it. A new message type or field is one line here.
 */
import { proposalDropReasons } from '../core/index.js';
import type { Frame } from './codec.js';
import { MAX_TEXT_BYTES, memberReplyCodes, type RefusalCode, snapshotAckStatuses } from './wire.js';
import {
  bool,
  bytes,
  commands,
  cutText16,
  entries,
  type Field,
  int,
  nullableText8,
  oneOf,
  oneOfOrNull,
  snapshotMeta,
  text16,
} from './wire-fields.js';

type FieldsOf<F> = Omit<F, 'type' | 'from' | 'to'>;

/** A frame's code and fields; key order is wire order. */
export interface Layout<F> {
  readonly code: number;
  readonly fields: { readonly [K in keyof FieldsOf<F>]-?: Field<FieldsOf<F>[K]> };
}

export type Layouts = { readonly [T in Frame['type']]: Layout<Extract<Frame, { type: T }>> };

const refusalCodes: readonly RefusalCode[] = [
  'RAFT_NOT_LEADER',
  'RAFT_PROPOSAL_DROPPED',
  'RAFT_OVERLOADED',
];

export const layouts: Layouts = {
  append: {
    code: 1,
    fields: { term: int, prevIndex: int, prevTerm: int, commit: int, entries },
  },
  'append-response': {
    code: 2,
    fields: { term: int, success: bool, index: int, hintIndex: int, hintTerm: int },
  },
  heartbeat: { code: 3, fields: { term: int, commit: int, round: int } },
  'heartbeat-response': { code: 4, fields: { term: int, round: int } },
  vote: {
    code: 5,
    fields: { term: int, preVote: bool, transfer: bool, lastIndex: int, lastTerm: int },
  },
  'vote-response': { code: 6, fields: { term: int, preVote: bool, granted: bool } },
  'timeout-now': { code: 7, fields: { term: int } },
  'read-index': { code: 8, fields: { term: int, context: text16 } },
  'read-index-response': { code: 9, fields: { term: int, context: text16, index: int } },
  'install-snapshot': { code: 10, fields: { term: int, snapshot: snapshotMeta } },
  hello: { code: 16, fields: {} },
  forward: { code: 17, fields: { id: int, term: int, commands } },
  'forward-refusal': {
    code: 18,
    fields: {
      id: int,
      code: oneOf(refusalCodes),
      reason: oneOfOrNull(proposalDropReasons),
      limit: nullableText8,
      detail: cutText16(MAX_TEXT_BYTES),
      leader: nullableText8,
      term: int,
    },
  },
  'snapshot-chunk': {
    code: 19,
    fields: { term: int, snapshot: snapshotMeta, offset: int, last: bool, data: bytes },
  },
  'snapshot-ack': {
    code: 20,
    fields: { term: int, index: int, offset: int, status: oneOf(snapshotAckStatuses) },
  },
  'member-request': { code: 21, fields: { id: int, term: int, timeoutMs: int, body: text16 } },
  'member-reply': {
    code: 22,
    fields: {
      id: int,
      term: int,
      code: oneOf(memberReplyCodes),
      reason: nullableText8,
      detail: cutText16(MAX_TEXT_BYTES),
      leader: nullableText8,
      index: int,
    },
  },
};
