/**
 * @module
 * What one node saw, kept for the dashboard: events (elections stood and won, leadership
 * lost, snapshots, configurations), a sample of the Raft messages it sent, and — while it
 * leads — when each stretch of the log was first sent, from which a follower's lag in
 * milliseconds is read. Bounded rings throughout: a busy node keeps the last few hundred.
 */
import { randomUUID } from 'node:crypto';
import type { KvStore } from '../kv/index.js';
import type { MessageTap, RaftNode } from '../node/index.js';

type NodeId = string;
type WireMessage = Parameters<MessageTap>[1];

export type EventKind =
  | 'election'
  | 'leader'
  | 'step-down'
  | 'snapshot'
  | 'membership'
  | 'lost'
  | 'found'
  | 'cut'
  | 'control';

export interface ClusterEvent {
  readonly seq: number;
  /** Milliseconds since the epoch, on the recording node's clock. */
  readonly t: number;
  /** The node the event happened to (or that saw it). */
  readonly node: NodeId;
  readonly kind: EventKind;
  readonly text: string;
  readonly term?: number;
  readonly index?: number;
  /** Events of the same key are one event seen by several nodes: the dashboard shows one. */
  readonly key: string;
}

export interface SampledMessage {
  readonly seq: number;
  readonly t: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly type: string;
  readonly term: number;
  /** Entries carried (appends). */
  readonly entries?: number;
  /** A vote's or an append's answer. */
  readonly ok?: boolean;
  readonly preVote?: boolean;
}

const MAX_EVENTS = 300;
const MAX_MESSAGES = 400;
/** Messages kept per sampling window, and per sender, receiver and type within it. */
const SAMPLE_WINDOW_MS = 250;
const SAMPLES_PER_WINDOW = 24;
/** First-send times kept for the lag in milliseconds (one per append that carried news). */
const MAX_SEND_TIMES = 4096;

export class NodeRecorder {
  /** Tells this life of the node from the next one (see `SelfView.boot`). */
  readonly boot = randomUUID();
  readonly #node: RaftNode<KvStore>;
  readonly #now: () => number;
  readonly #events: ClusterEvent[] = [];
  readonly #messages: SampledMessage[] = [];
  #eventSeq = 0;
  #messageSeq = 0;
  #window = 0;
  #windowCount = 0;
  readonly #windowKeys = new Set<string>();
  /** Votes granted to this node, by term (real elections, not pre-votes). */
  readonly #votes = new Map<number, Set<NodeId>>();
  /** `[index, t]`: the leader first sent entries up to `index` at `t`, ascending. */
  #sendTimes: [number, number][] = [];
  #wasLeader = false;

  constructor(node: RaftNode<KvStore>, now: () => number = Date.now) {
    this.#node = node;
    this.#now = now;
    const id = node.id;
    node.tapMessages((direction, m) => {
      if (direction === 'sent') this.#sent(m);
      else if (m.type === 'vote-response' && m.granted && !m.preVote) this.#granted(m);
    });
    node.on('role', (role, term) => {
      if (role === 'candidate') {
        this.#votes.set(term, new Set([id]));
        this.record('election', `${id} stood for election in term ${term}`, `stood:${id}:${term}`, {
          term,
        });
      } else if (role === 'leader') {
        const votes = [...(this.#votes.get(term) ?? [id])].sort();
        this.#wasLeader = true;
        this.#sendTimes = [];
        this.record(
          'leader',
          `${id} won term ${term} with the votes of ${votes.join(', ')}`,
          `won:${term}`,
          { term },
        );
      } else if (this.#wasLeader) {
        this.#wasLeader = false;
        this.record('step-down', `${id} stepped down in term ${term}`, `down:${id}:${term}`, {
          term,
        });
      }
      // Old tallies are of no use once a term has passed.
      for (const t of this.#votes.keys()) if (t < term) this.#votes.delete(t);
    });
    node.on('snapshot', (kind, index) => {
      const text =
        kind === 'taken'
          ? `${id} took a snapshot at ${index}`
          : `${id} installed the leader's snapshot at ${index}`;
      this.record('snapshot', text, `snapshot:${kind}:${id}:${index}`, { index });
    });
    node.on('configuration', (index, spec) => {
      const learners =
        spec.learners === undefined || spec.learners.length === 0
          ? ''
          : `; learners ${spec.learners.join(', ')}`;
      const joint =
        spec.outgoing !== undefined && spec.outgoing.length > 0
          ? ` (joint with ${spec.outgoing.join(', ')})`
          : '';
      this.record(
        'membership',
        `configuration at ${index}: voters ${spec.voters.join(', ')}${joint}${learners}`,
        `config:${index}`,
        { index },
      );
    });
  }

  /** Records an event seen here. */
  record(
    kind: EventKind,
    text: string,
    key: string,
    extra: { term?: number; index?: number } = {},
  ): void {
    this.#events.push({
      seq: ++this.#eventSeq,
      t: this.#now(),
      node: this.#node.id,
      kind,
      text,
      key,
      ...extra,
    });
    if (this.#events.length > MAX_EVENTS) this.#events.shift();
  }

  /** Events after sequence number `seq`, oldest first. */
  eventsSince(seq: number): ClusterEvent[] {
    return after(this.#events, seq);
  }

  messagesSince(seq: number): SampledMessage[] {
    return after(this.#messages, seq);
  }

  get eventSeq(): number {
    return this.#eventSeq;
  }

  get messageSeq(): number {
    return this.#messageSeq;
  }

  /**
   * How long ago the oldest entry a follower lacks was first sent, in milliseconds: 0 when it
   * has all this leader sent, null when this leader has not sent what it lacks.
   */
  lagMs(match: number, lastIndex: number): number | null {
    if (match >= lastIndex) return 0;
    const times = this.#sendTimes;
    // The first stretch that holds match + 1.
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] as [number, number])[0] > match) hi = mid;
      else lo = mid + 1;
    }
    const hit = times[lo];
    return hit === undefined ? null : Math.max(0, this.#now() - hit[1]);
  }

  #sent(m: WireMessage): void {
    if (m.type === 'append' && m.entries.length > 0) {
      const last = (m.entries.at(-1) as { index: number }).index;
      if (last > (this.#sendTimes.at(-1)?.[0] ?? 0)) {
        this.#sendTimes.push([last, this.#now()]);
        if (this.#sendTimes.length > MAX_SEND_TIMES) this.#sendTimes.shift();
      }
    }
    this.#sample(m);
  }

  #granted(m: WireMessage & { type: 'vote-response' }): void {
    this.#votes.get(m.term)?.add(m.from);
  }

  /** Keeps a few messages per window, one per sender, receiver and type, so that a busy cluster stays readable. */
  #sample(m: WireMessage): void {
    const now = this.#now();
    const window = Math.floor(now / SAMPLE_WINDOW_MS);
    if (window !== this.#window) {
      this.#window = window;
      this.#windowCount = 0;
      this.#windowKeys.clear();
    }
    // Votes are always kept: an election is what a viewer wants to see. Others, once the
    // window is full, cost no more than this test (the hot path of a busy leader).
    const vote = m.type === 'vote' || m.type === 'vote-response';
    if (!vote && this.#windowCount >= SAMPLES_PER_WINDOW) return;
    const key = `${m.to}|${m.type}`;
    if (!vote && this.#windowKeys.has(key)) return;
    this.#windowKeys.add(key);
    this.#windowCount++;
    const sample: SampledMessage = {
      seq: ++this.#messageSeq,
      t: now,
      from: m.from,
      to: m.to,
      type: m.type,
      term: m.term,
      ...(m.type === 'append' ? { entries: m.entries.length } : {}),
      ...(m.type === 'vote-response' ? { ok: m.granted, preVote: m.preVote } : {}),
      ...(m.type === 'vote' ? { preVote: m.preVote } : {}),
      ...(m.type === 'append-response' ? { ok: m.success } : {}),
    };
    this.#messages.push(sample);
    if (this.#messages.length > MAX_MESSAGES) this.#messages.shift();
  }
}

function after<T extends { seq: number }>(list: readonly T[], seq: number): T[] {
  // Sequence numbers ascend: search from the end, where callers' cursors are.
  let i = list.length;
  while (i > 0 && (list[i - 1] as T).seq > seq) i--;
  return list.slice(i);
}
