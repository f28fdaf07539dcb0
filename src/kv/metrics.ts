/**
 * @module
 * A node's Prometheus metrics (prom-client), one registry per node so that several nodes can
 * share a process. Gauges and wire counters are read from the node when scraped, so the hot
 * path pays nothing for them; request and fsync latencies are observed as they happen.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { FlushReport, RaftNode, WriteStage } from '../node/index.js';
import { RecentActivity } from './activity.js';

const roles = ['follower', 'pre-candidate', 'candidate', 'leader'] as const;

/** Latency buckets in seconds: 0.25 ms to 10 s. */
const latencyBuckets = [
  0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type RequestOp =
  | 'put'
  | 'get'
  | 'delete'
  | 'cas'
  | 'register'
  | 'status'
  | 'members'
  | 'add-member'
  | 'promote-member'
  | 'remove-member'
  | 'transfer-leader'
  | 'snapshot';

/**
 * The stages of one write at its leader, in order: the node's (see `write-stages.ts`) between
 * the HTTP server's `parse` (request arrived → proposed) and `answer` (applied → answered).
 */
export type WriteStageName = 'parse' | WriteStage | 'answer';

/** Finer buckets than requests': a stage of a fast write takes microseconds. */
const stageBuckets = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
  0.25, 1,
];

export class KvMetrics {
  readonly registry = new Registry();
  /** The last minutes a second at a time, for the dashboard's charts. */
  readonly activity = new RecentActivity();
  #node: RaftNode | null = null;
  readonly #requests: Counter<'op' | 'status'>;
  readonly #latency: Histogram<'op'>;
  readonly #flush: Histogram<'synced'>;
  readonly #groupCommit: Histogram;
  readonly #stage: Histogram<'stage'>;
  /** Children bound to their label once: prom-client's labelled observe hashes labels on every call. */
  readonly #stageChildren = new Map<WriteStageName, { observe(v: number): void }>();
  readonly #latencyChildren = new Map<RequestOp, { observe(v: number): void }>();

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const node = (): RaftNode | null => this.#node;
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'raftkit_role',
      help: 'The node role: 1 for the current one, 0 for the others',
      labelNames: ['role'],
      registers,
      collect() {
        const role = node()?.role;
        for (const r of roles) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    const status = (
      name: string,
      help: string,
      pick: (s: ReturnType<RaftNode['status']>) => number,
    ): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const n = node();
          if (n !== null) this.set(pick(n.status()));
        },
      });
    };
    status('raftkit_term', 'Current term', (s) => s.term);
    status('raftkit_commit_index', 'Highest log index known committed', (s) => s.commitIndex);
    status('raftkit_applied_index', 'Highest log index applied', (s) => s.appliedIndex);
    status('raftkit_last_index', 'Last log index', (s) => s.lastIndex);
    status(
      'raftkit_first_index',
      'First log index still held (after compaction)',
      (s) => s.firstIndex,
    );
    status(
      'raftkit_snapshot_index',
      "Newest snapshot's index (0 before the first)",
      (s) => s.snapshotIndex,
    );
    new Gauge({
      name: 'raftkit_has_leader',
      help: '1 when this node knows a leader',
      registers,
      collect() {
        this.set(node()?.leader == null ? 0 : 1);
      },
    });
    const wire = (
      name: string,
      help: string,
      label: string | null,
      pick: (
        s: ReturnType<RaftNode['transportStats']>,
      ) => number | Readonly<Record<string, number>>,
    ): void => {
      new Counter({
        name,
        help,
        labelNames: label === null ? [] : [label],
        registers,
        collect() {
          const n = node();
          if (n === null) return;
          const value = pick(n.transportStats());
          this.reset();
          if (typeof value === 'number') this.inc(value);
          else
            for (const [k, v] of Object.entries(value))
              if (v > 0) this.inc({ [label as string]: k }, v);
        },
      });
    };
    new Counter({
      name: 'raftkit_linearizable_reads_total',
      help: 'Linearizable reads asked of this node: served under the lease, or by a round',
      labelNames: ['mode'],
      registers,
      collect() {
        const n = node();
        if (n === null) return;
        const counts = n.readCounts();
        this.reset();
        this.inc({ mode: 'lease' }, counts.lease);
        this.inc({ mode: 'round' }, counts.round);
      },
    });
    wire('raftkit_messages_sent_total', 'Messages sent, by type', 'type', (s) => s.sentByType);
    wire(
      'raftkit_messages_received_total',
      'Messages received and valid, by type',
      'type',
      (s) => s.receivedByType,
    );
    wire(
      'raftkit_messages_dropped_total',
      'Messages dropped, by reason',
      'reason',
      (s) => s.dropped,
    );
    wire('raftkit_bytes_sent_total', 'Bytes sent on the wire', null, (s) => s.bytesSent);
    wire(
      'raftkit_bytes_received_total',
      'Bytes received from the wire',
      null,
      (s) => s.bytesReceived,
    );
    this.#requests = new Counter({
      name: 'raftkit_requests_total',
      help: 'HTTP requests by operation and status code',
      labelNames: ['op', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'raftkit_request_duration_seconds',
      help: 'HTTP request latency by operation (writes: proposal to apply)',
      labelNames: ['op'],
      buckets: latencyBuckets,
      registers,
    });
    this.#flush = new Histogram({
      name: 'raftkit_fsync_duration_seconds',
      help: 'Log group commits: write plus fdatasync (synced="true"), or write only',
      labelNames: ['synced'],
      buckets: latencyBuckets,
      registers,
    });
    this.#groupCommit = new Histogram({
      name: 'raftkit_group_commit_saves',
      help: 'Saves served by one group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.#stage = new Histogram({
      name: 'raftkit_write_stage_seconds',
      help: 'Where the time of a write at its leader went: parse, append, local-fsync, quorum, apply, answer',
      labelNames: ['stage'],
      buckets: stageBuckets,
      registers,
    });
  }

  /** One stage of one write at this node, its leader. */
  readonly writeStage = (stage: WriteStageName, seconds: number): void => {
    let child = this.#stageChildren.get(stage);
    if (child === undefined) {
      child = this.#stage.labels({ stage });
      this.#stageChildren.set(stage, child);
    }
    child.observe(seconds);
  };

  /** The node whose state the gauges report (it exists only after the storage is open). */
  bind(node: RaftNode): void {
    this.#node = node;
  }

  /** One request answered with `status`, or whose client went away before it was read. */
  request(op: RequestOp, status: number | 'aborted', seconds: number): void {
    this.#requests.inc({ op, status: String(status) });
    let child = this.#latencyChildren.get(op);
    if (child === undefined) {
      child = this.#latency.labels({ op });
      this.#latencyChildren.set(op, child);
    }
    child.observe(seconds);
    if (op === 'get') {
      if (status === 200 || status === 404) this.activity.read(seconds * 1000);
    } else if (status === 200 && (op === 'put' || op === 'delete' || op === 'cas')) {
      this.activity.write(seconds * 1000);
    }
  }

  readonly flush = (report: FlushReport): void => {
    this.#flush.observe({ synced: String(report.synced) }, report.durationMs / 1000);
    if (report.synced) this.activity.fsync(report.durationMs);
    this.#groupCommit.observe(report.saves);
  };

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
