/**
 * @module
 * Structural validation of a message: every field present, of the right type, in range, and
 * consistent with the others. It needs no state, so a transport can run it on decode as well.
 * Returns a reason, or undefined when the message is well formed.
 */
import { decodeConfig } from './config-entry.js';
import { type Message, messageTypes } from './messages.js';
import { checkSnapshotMeta } from './snapshot.js';

/** Longest ReadIndex context accepted, in UTF-16 code units. */
export const MAX_READ_CONTEXT_LENGTH = 256;

const knownTypes: ReadonlySet<string> = new Set(messageTypes);

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

export function checkMessageShape(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return 'not an object';
  const msg = m as Record<string, unknown>;
  const type = msg.type;
  if (typeof type !== 'string' || !knownTypes.has(type)) return `unknown type ${String(type)}`;
  if (!isId(msg.from)) return `${type}: from must be a non-empty string`;
  if (!isId(msg.to)) return `${type}: to must be a non-empty string`;
  if (msg.from === msg.to) return `${type}: sent by ${msg.from} to itself`;
  // Every message is sent in, or in answer to, a term in which some node campaigned: term >= 1.
  if (!isIndex(msg.term) || msg.term === 0) return `${type}: term must be a positive integer`;
  return checkFields(m as Message);
}

function checkFields(m: Message): string | undefined {
  switch (m.type) {
    case 'append':
      return checkAppend(m);
    case 'append-response':
      if (typeof m.success !== 'boolean') return 'append-response: success must be a boolean';
      if (!isIndex(m.index) || !isIndex(m.hintIndex) || !isIndex(m.hintTerm)) {
        return 'append-response: index, hintIndex and hintTerm must be non-negative integers';
      }
      if (!m.success && m.hintIndex > m.index) {
        return `append-response: hint ${m.hintIndex} beyond the rejected index ${m.index}`;
      }
      if (m.hintTerm > m.term) return `append-response: hint term ${m.hintTerm} > term ${m.term}`;
      return undefined;
    case 'heartbeat':
      if (!isIndex(m.commit) || !isIndex(m.round)) {
        return 'heartbeat: commit and round must be non-negative integers';
      }
      return undefined;
    case 'heartbeat-response':
      return isIndex(m.round)
        ? undefined
        : 'heartbeat-response: round must be a non-negative integer';
    case 'vote':
      if (typeof m.preVote !== 'boolean' || typeof m.transfer !== 'boolean') {
        return 'vote: preVote and transfer must be booleans';
      }
      if (!isIndex(m.lastIndex) || !isIndex(m.lastTerm)) {
        return 'vote: lastIndex and lastTerm must be non-negative integers';
      }
      if (m.lastTerm > m.term) return `vote: last log term ${m.lastTerm} > term ${m.term}`;
      return undefined;
    case 'vote-response':
      if (typeof m.preVote !== 'boolean' || typeof m.granted !== 'boolean') {
        return 'vote-response: preVote and granted must be booleans';
      }
      return undefined;
    case 'timeout-now':
      return undefined;
    case 'read-index':
      return checkContext(m.type, m.context);
    case 'read-index-response':
      if (!isIndex(m.index)) return 'read-index-response: index must be a non-negative integer';
      return checkContext(m.type, m.context);
    case 'install-snapshot': {
      const problem = checkSnapshotMeta(m.snapshot);
      if (problem !== undefined) return `install-snapshot: ${problem}`;
      if (m.snapshot.term > m.term) {
        return `install-snapshot: snapshot term ${m.snapshot.term} > term ${m.term}`;
      }
      return undefined;
    }
    default:
      // Every message type has its case: a new one without a check does not compile.
      return unchecked(m);
  }
}

function unchecked(m: never): never {
  throw new Error(`no check for message ${JSON.stringify(m)}`);
}

function checkContext(type: string, context: unknown): string | undefined {
  if (typeof context !== 'string') return `${type}: context must be a string`;
  if (context.length > MAX_READ_CONTEXT_LENGTH) {
    return `${type}: context of ${context.length} characters (limit ${MAX_READ_CONTEXT_LENGTH})`;
  }
  return undefined;
}

function checkAppend(m: Message & { type: 'append' }): string | undefined {
  if (!isIndex(m.prevIndex) || !isIndex(m.prevTerm) || !isIndex(m.commit)) {
    return 'append: prevIndex, prevTerm and commit must be non-negative integers';
  }
  if (m.prevTerm > m.term) return `append: prevTerm ${m.prevTerm} > term ${m.term}`;
  if (!Array.isArray(m.entries)) return 'append: entries must be an array';
  let term = m.prevTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e: unknown = m.entries[i];
    if (typeof e !== 'object' || e === null) return `append: entry ${i} is not an object`;
    const { index, term: entryTerm, kind, data } = e as Record<string, unknown>;
    if (index !== m.prevIndex + 1 + i) {
      return `append: entry ${i} has index ${String(index)}, expected ${m.prevIndex + 1 + i}`;
    }
    const lowest = Math.max(term, 1);
    if (!isIndex(entryTerm) || entryTerm < lowest || entryTerm > m.term) {
      return `append: entry ${String(index)} has term ${String(entryTerm)}, expected ${lowest}..${m.term}`;
    }
    term = entryTerm;
    if (kind !== 'command' && kind !== 'noop' && kind !== 'config') {
      return `append: entry ${String(index)} has unknown kind ${String(kind)}`;
    }
    if (!(data instanceof Uint8Array)) return `append: entry ${String(index)} data is not bytes`;
    if (kind === 'noop' && data.byteLength !== 0) {
      return `append: noop entry ${String(index)} carries data`;
    }
    if (kind === 'config') {
      const m = decodeConfig(data);
      if (typeof m === 'string') return `append: configuration entry ${String(index)}: ${m}`;
    }
  }
  return undefined;
}
