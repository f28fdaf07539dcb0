/**
 * @module
 * The JSON of the dashboard's API (README, "Dashboard"): what `/v1/cluster/self` answers for
 * one node, and what `/v1/cluster` and the event stream answer for the cluster. Types only:
 * the browser code imports them too.
 */
import type { ClusterEvent, SampledMessage } from './recorder.js';

export type { ClusterEvent, EventKind, SampledMessage } from './recorder.js';

export interface FollowerProgress {
  readonly id: string;
  readonly match: number;
  readonly next: number;
  /** `probe`, `replicate` or `snapshot` (etcd's names). */
  readonly state: string;
  readonly inflight: number;
  /** Heard from within the last election timeout. */
  readonly active: boolean;
  /** Entries the leader holds that it does not. */
  readonly lagEntries: number;
  /** How long ago the oldest entry it lacks was first sent; null when not known. */
  readonly lagMs: number | null;
}

/** A stretch of a node's log: `[firstIndex, term]` runs over `[from, to]`. */
export interface LogStrip {
  readonly from: number;
  readonly to: number;
  readonly terms: readonly (readonly [number, number])[];
}

/** A second of activity, merged over the nodes that served it (latencies in milliseconds). */
export interface ChartPoint {
  /** Start of the second, ms since the epoch. */
  readonly t: number;
  readonly writes: number;
  readonly reads: number;
  readonly writeP50: number | null;
  readonly writeP99: number | null;
  readonly readP50: number | null;
  readonly readP99: number | null;
  readonly fsyncP50: number | null;
  readonly fsyncP99: number | null;
  /** Entries each follower trailed the leader by at that second. */
  readonly lag: Readonly<Record<string, number>>;
}

export interface NodeState {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** `GET /v1/cluster/self`: one node's part, since the cursors the caller gave. */
export interface SelfView {
  readonly id: string;
  /** Drawn at each start of the node: its records are numbered afresh in a new life. */
  readonly boot: string;
  readonly url: string | null;
  /** This node's clock, ms since the epoch. */
  readonly time: number;
  readonly cluster: string | null;
  readonly state: NodeState;
  /** Cut off from its peers by the dashboard's control (a local cluster only). */
  readonly cut: boolean;
  /** The leader's view of its followers; empty unless this node leads. */
  readonly followers: readonly FollowerProgress[];
  readonly log: LogStrip;
  readonly urls: Readonly<Record<string, string>>;
  readonly events: readonly ClusterEvent[];
  readonly messages: readonly SampledMessage[];
  readonly activity: readonly {
    readonly t: number;
    readonly writes: number;
    readonly reads: number;
    readonly writeMs: Readonly<Record<number, number>>;
    readonly readMs: Readonly<Record<number, number>>;
    readonly fsyncMs: Readonly<Record<number, number>>;
  }[];
  readonly controls: Controls;
}

/** What the page may offer: nothing unless the node allows it (`--ui-controls`). */
export interface Controls {
  /** Put, get, leader transfer and membership changes (each still needs its role). */
  readonly enabled: boolean;
  /** Stop, pause, resume, restart, cut and heal a node: only under a local `raftkit cluster`. */
  readonly local: boolean;
}

/** A local cluster's process, as its supervisor knows it. */
export type ProcessState = 'running' | 'paused' | 'stopped' | 'cut';

export interface MemberView {
  readonly id: string;
  readonly url: string | null;
  readonly voter: boolean;
  readonly learner: boolean;
  /** Answered the last poll. */
  readonly up: boolean;
  /** The local supervisor's word, when there is one. */
  readonly process: ProcessState | null;
  /** Its own state, as it last answered (absent if it never did). */
  readonly state: NodeState | null;
  /** As the leader sees it (absent for the leader itself, or without a leader). */
  readonly progress: FollowerProgress | null;
  readonly log: LogStrip | null;
  /** Milliseconds since it last answered; null if it never did. */
  readonly silentMs: number | null;
  /** Why the last poll of it failed, if it did. */
  readonly error?: string;
}

/** `GET /v1/cluster`, and each update of the event stream. */
export interface ClusterView {
  /** The node that assembled this view. */
  readonly servedBy: string;
  readonly time: number;
  readonly cluster: string | null;
  /** The leader of the highest term any member reports; null if none. */
  readonly leader: string | null;
  readonly term: number;
  readonly members: readonly MemberView[];
  /** New since the previous update of a stream; the whole kept history in `GET /v1/cluster`. */
  readonly events: readonly ClusterEvent[];
  readonly messages: readonly SampledMessage[];
  readonly chart: readonly ChartPoint[];
  readonly controls: Controls;
}
