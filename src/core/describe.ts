/**
 * @module
 * One-line, human-readable renderings of entries and messages, for logs and test output.
 */
import type { Message } from './messages.js';
import type { Entry } from './types.js';

/** `5@2` for a command at index 5 of term 2, `5@2:noop` for a no-op. */
export function describeEntry(e: Entry): string {
  return e.kind === 'noop' ? `${e.index}@${e.term}:noop` : `${e.index}@${e.term}`;
}

export function describeEntries(entries: readonly Entry[]): string {
  if (entries.length <= 4) return `[${entries.map(describeEntry).join(' ')}]`;
  const first = entries[0] as Entry;
  const last = entries[entries.length - 1] as Entry;
  return `[${describeEntry(first)} .. ${describeEntry(last)} (${entries.length})]`;
}

/** E.g. `a->b append term=2 prev=5@1 entries=[6@2 7@2] commit=5`. */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'append':
      return `${head} prev=${m.prevIndex}@${m.prevTerm} entries=${describeEntries(m.entries)} commit=${m.commit}`;
    case 'append-response':
      return m.success
        ? `${head} ok index=${m.index}`
        : `${head} rejected index=${m.index} hint=${m.hintIndex}@${m.hintTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.commit} round=${m.round}`;
    case 'heartbeat-response':
      return `${head} round=${m.round}`;
    case 'vote':
      return `${head}${m.preVote ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastIndex}@${m.lastTerm}`;
    case 'vote-response':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'timeout-now':
      return head;
    case 'read-index':
      return `${head} context=${m.context}`;
    case 'read-index-response':
      return `${head} context=${m.context} index=${m.index}`;
    case 'install-snapshot':
      return `${head} snapshot=${m.snapshot.index}@${m.snapshot.term} voters=${m.snapshot.membership.voters.join(',')}`;
  }
}
