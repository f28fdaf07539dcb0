/**
 * @module
 * Key-value commands as they travel in the log, and their results.
 *
 * A command is a small JSON object (readable in `raftkit inspect`). Every write may carry a
 * session reference `{client, seq, ack}` for exactly-once application (see `sessions.ts`).
 * Time is not a command's: the leader stamps every entry with the log's time, which the node
 * hands to the state machine (see `../node/command.ts`). Commands written before that carried
 * the receiving server's clock as `at`; it is accepted and ignored, since one fast clock
 * moved every session's expiry with it.
 */
import { InvalidCommandError } from '../node/index.js';

/** A client session: `client` is the log index of its registration. */
export interface SessionRef {
  readonly client: number;
  /** This request's number, unique per client, from 1. */
  readonly seq: number;
  /** The lowest number the client still waits for: results below it can be forgotten. */
  readonly ack: number;
}

export type KvCommand =
  | { readonly op: 'register' }
  /** Member `id` serves its HTTP API at `url` (what the dashboard and tools reach it by). */
  | { readonly op: 'advertise'; readonly id: string; readonly url: string }
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: string;
      readonly session?: SessionRef;
    }
  | { readonly op: 'del'; readonly key: string; readonly session?: SessionRef }
  | {
      readonly op: 'cas';
      readonly key: string;
      /** null: the key must be absent. */
      readonly expected: string | null;
      /** null: delete the key. */
      readonly value: string | null;
      readonly session?: SessionRef;
    };

export type KvWrite = Exclude<KvCommand, { op: 'register' } | { op: 'advertise' }>;

export type SessionRejection = 'session-expired' | 'stale-request';

export type KvResult =
  | { readonly client: number }
  | { readonly index: number }
  | { readonly index: number; readonly deleted: boolean }
  | { readonly index: number; readonly succeeded: boolean }
  | { readonly rejected: SessionRejection };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeKvCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isString = (v: unknown): v is string => typeof v === 'string';
const isUrl = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= 2048 && /^https?:\/\/[^\s/]+$/.test(v);
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

export function isSessionRef(v: unknown): v is SessionRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    Object.keys(r).length === 3 &&
    isCount(r.client) &&
    isCount(r.seq) &&
    isCount(r.ack) &&
    r.ack <= r.seq
  );
}

const fields: Record<KvCommand['op'], Record<string, (v: unknown) => boolean>> = {
  register: {},
  advertise: { id: isString, url: isUrl },
  put: { key: isString, value: isString },
  del: { key: isString },
  cas: { key: isString, expected: isNullableString, value: isNullableString },
};

// Per op, made once: the field checks, and every field a command of that op may have.
const fieldChecks = Object.fromEntries(
  Object.entries(fields).map(([op, f]) => [op, Object.entries(f)]),
) as unknown as Record<KvCommand['op'], readonly [string, (v: unknown) => boolean][]>;
const allowedFields = Object.fromEntries(
  Object.entries(fields).map(([op, f]) => [
    op,
    new Set(['op', 'at', 'session', ...Object.keys(f)]),
  ]),
) as unknown as Record<KvCommand['op'], ReadonlySet<string>>;

/**
 * The command in `bytes`. Entries come from the log, checksummed, but a state machine trusts
 * nothing: whatever is not exactly a command is refused, identically on every node.
 */
export function decodeKvCommand(bytes: Uint8Array, index: number): KvCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new InvalidCommandError(index, 'not a key-value command (not UTF-8 JSON)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidCommandError(index, 'not a key-value command (not an object)');
  }
  const c = parsed as Record<string, unknown>;
  const shape =
    typeof c.op === 'string' && Object.hasOwn(fields, c.op)
      ? fieldChecks[c.op as KvCommand['op']]
      : undefined;
  if (shape === undefined) throw new InvalidCommandError(index, `unknown op ${String(c.op)}`);
  if ('at' in c && (!Number.isSafeInteger(c.at) || (c.at as number) < 0)) {
    throw new InvalidCommandError(index, 'invalid time');
  }
  for (const [name, check] of shape) {
    if (!(name in c) || !check(c[name])) throw new InvalidCommandError(index, `bad ${name}`);
  }
  const allowed = allowedFields[c.op as KvCommand['op']] as ReadonlySet<string>;
  for (const k in c) {
    if (!allowed.has(k)) throw new InvalidCommandError(index, `unexpected field ${k}`);
  }
  if ('session' in c && (c.op === 'register' || c.op === 'advertise' || !isSessionRef(c.session))) {
    throw new InvalidCommandError(index, 'bad session');
  }
  return c as unknown as KvCommand;
}
