/**
 * @module
 * `GET /v1/cluster/self`: one node's part of the dashboard — its state, its log's last
 * stretch, the leader's view of its followers, and what it recorded since the caller's
 * cursors (events, sampled messages, seconds of activity).
 */
import type { KvMetrics, KvStore, SelfQuery } from '../kv/index.js';
import type { RaftNode } from '../node/index.js';
import type { NodeRecorder } from './recorder.js';
import type { Controls, FollowerProgress, SelfView } from './view-types.js';

/** Entries of the log shown per node: the last ones. */
export const STRIP_ENTRIES = 60;

export interface SelfSource {
  readonly node: RaftNode<KvStore>;
  readonly metrics: KvMetrics;
  readonly recorder: NodeRecorder;
  /** This node's advertised URL, if it has one. */
  readonly url: string | null;
  readonly controls: Controls;
  /** Cut off by the dashboard's control. */
  cut(): boolean;
}

export function selfView(source: SelfSource, query: SelfQuery, now = Date.now()): SelfView {
  const { node, recorder } = source;
  const s = node.status();
  const followers: FollowerProgress[] = [];
  for (const [id, p] of node.replication()) {
    if (id === s.id) continue;
    followers.push({
      id,
      match: p.match,
      next: p.next,
      state: p.state,
      inflight: p.inflightMessages,
      active: p.recentActive,
      lagEntries: Math.max(0, s.lastIndex - p.match),
      lagMs: recorder.lagMs(p.match, s.lastIndex),
    });
  }
  const from = Math.max(1, s.lastIndex - STRIP_ENTRIES + 1);
  // The node's status as it is, the voters under their own name.
  const { id: _id, cluster: _cluster, members, ...state } = s;
  return {
    id: s.id,
    boot: recorder.boot,
    url: source.url,
    time: now,
    cluster: s.cluster,
    state: { ...state, voters: members },
    cut: source.cut(),
    followers,
    log: { from, to: s.lastIndex, terms: node.logTerms(from, s.lastIndex) },
    urls: Object.fromEntries(node.stateMachine.urls),
    events: recorder.eventsSince(query.events),
    messages: recorder.messagesSince(query.messages),
    activity: source.metrics.activity.since(query.activity),
    controls: source.controls,
  };
}
