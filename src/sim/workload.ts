/**
 * @module
 * What clients do during a run, and how their history is judged. A workload runs its clients
 * on virtual time through `SimCluster.request` (so a request can be lost with its node, or
 * time out), records what it saw, and checks it at the end. `KvWorkload` is the key-value
 * one; a user's state machine comes with a workload of its own.
 */
import type { NodeId } from '../core/index.js';
import type { StateMachine } from '../node/index.js';
import type { SimCluster } from './cluster.js';
import type { SimRandom } from './random.js';
import type { Scheduler } from './scheduler.js';

export interface WorkloadContext<S extends StateMachine> {
  readonly cluster: SimCluster<S>;
  readonly scheduler: Scheduler;
  readonly random: SimRandom;
  /** True once clients should start no new operation. */
  readonly stopping: () => boolean;
}

export interface WorkloadVerdict {
  /** 'unknown' when the checker ran out of budget. */
  readonly ok: boolean | 'unknown';
  readonly detail: string;
}

export interface Workload<S extends StateMachine> {
  /** A fresh state machine, for each life of each node (it is rebuilt from the log). */
  createStateMachine(): S;
  /** Runs the clients; resolves once every one has stopped (after `stopping()` turns true). */
  run(context: WorkloadContext<S>): Promise<void>;
  /** A command whose commit shows the healed cluster makes progress. */
  livenessCommand(now: number): Uint8Array;
  /**
   * A string that two states share exactly when they are equal (a canonical dump, or a hash
   * of one). With it, the cluster checks that every snapshot at one index holds one state, and
   * that a state restored from a snapshot is the one snapshotted.
   */
  digest?(state: S): string;
  /** Judges the recorded history. */
  check(): WorkloadVerdict;
  /** Counts for the report. */
  stats(): Readonly<Record<string, number>>;
}

/** Picks the next node to try after a failed attempt: the leader named, or another one. */
export function nextTarget(
  cluster: { readonly size: number; indexOf(id: NodeId | null): number | null },
  random: SimRandom,
  current: number,
  leader: NodeId | null,
): number {
  const named = cluster.indexOf(leader);
  if (named !== null && named !== current) return named;
  if (cluster.size === 1) return current;
  const other = random.int(cluster.size - 1);
  return other >= current ? other + 1 : other;
}
