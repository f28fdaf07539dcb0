/**
 * @module
 * One simulated run, from its seed. Nodes start; clients run the workload while the nemesis
 * injects the scheduled faults, and every event is followed by the invariant checks. Then
 * every fault is healed and the cluster must commit a new command on every node within the
 * liveness bound; the clients' last operations finish or time out; and the history is
 * checked. The same options give the same run, event for event.
 */
import type { StateMachine } from '../node/index.js';
import { type ClusterStats, SimCluster } from './cluster.js';
import {
  defaultFaultProfile,
  drawSchedule,
  type FaultKind,
  type FaultProfile,
  faultKinds,
  type ScheduledFault,
} from './faults.js';
import { Invariants } from './invariants.js';
import { KvWorkload } from './kv-workload.js';
import { EventRateWatch } from './livelock.js';
import { Nemesis } from './nemesis.js';
import { type NetworkStats, SimNetwork } from './network.js';
import { SimRandom } from './random.js';
import { Actor, Scheduler } from './scheduler.js';
import { drawTuning, type SimTuning } from './tuning.js';
import type { Workload } from './workload.js';

export interface SimulationOptions<S extends StateMachine = StateMachine> {
  readonly seed: number;
  /** Cluster size; default 3. */
  readonly nodes?: number;
  /** Virtual milliseconds of workload under faults; default 20 000. */
  readonly durationMs?: number;
  /** Virtual milliseconds the healed cluster has to commit a new command everywhere; default 15 000. */
  readonly livenessMs?: number;
  readonly profile?: FaultProfile;
  /** Keep only these faults of the drawn schedule, by position (what the shrinker passes). */
  readonly keep?: readonly number[];
  /** Node settings; default: drawn from the seed (see tuning.ts). */
  readonly tuning?: SimTuning;
  /** Default: the key-value workload. */
  readonly workload?: () => Workload<S>;
  /** A bound on events, against a run that never ends; default 5 million. */
  readonly maxEvents?: number;
  /**
   * A bound on events per virtual second; default 10 000 per node. Over it for
   * LIVELOCK_SECONDS seconds in a row is a livelock (messages bouncing without progress),
   * which a real cluster would show as cores at 100 %. Normal runs stay under 3 000 per node,
   * with bursts above it for a second while a follower catches up.
   */
  readonly maxEventsPerSecond?: number;
}

export type FailureKind = 'invariant' | 'node' | 'liveness' | 'linearizability' | 'checker';

export interface SimFailure {
  readonly kind: FailureKind;
  readonly message: string;
  /** Virtual milliseconds into the run. */
  readonly atMs: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly tuning: SimTuning;
  readonly ok: boolean;
  readonly failure: SimFailure | null;
  /** The faults this run was given (after `keep`), and which positions of the drawn schedule. */
  readonly schedule: readonly ScheduledFault[];
  readonly positions: readonly number[];
  readonly injected: Readonly<Record<FaultKind, number>>;
  readonly virtualMs: number;
  readonly events: number;
  /** The most events in one virtual second (windows aligned to whole seconds). */
  readonly peakEventsPerSecond: number;
  /** Virtual milliseconds from the heal to a command applied on every node. */
  readonly recoveryMs: number | null;
  readonly leadersElected: number;
  readonly network: Readonly<NetworkStats>;
  readonly cluster: Readonly<ClusterStats>;
  readonly workload: Readonly<Record<string, number>>;
  readonly verdict: string;
  /** The command that replays this run. */
  readonly replay: string;
}

export const DEFAULT_DURATION_MS = 20_000;
export const DEFAULT_LIVENESS_MS = 15_000;

export async function simulate<S extends StateMachine = StateMachine>(
  options: SimulationOptions<S>,
): Promise<SimResult> {
  const nodes = options.nodes ?? 3;
  const durationMs = options.durationMs ?? DEFAULT_DURATION_MS;
  const livenessMs = options.livenessMs ?? DEFAULT_LIVENESS_MS;
  const profile = options.profile ?? defaultFaultProfile;
  const maxEvents = options.maxEvents ?? 5_000_000;
  const maxEventsPerSecond = options.maxEventsPerSecond ?? 10_000 * nodes;
  const workload = (options.workload?.() ?? new KvWorkload()) as Workload<S>;

  const root = new SimRandom(options.seed);
  const tuning = options.tuning ?? drawTuning(root.fork('tuning'));
  const scheduler = new Scheduler();
  const invariants = new Invariants();
  const network = new SimNetwork(scheduler, root.fork('network'));
  network.observer = (m) => invariants.sent(m);
  const spares = tuning.members?.spares ?? 0;
  const cluster = new SimCluster<S>({
    scheduler,
    network,
    random: root.fork('cluster'),
    invariants,
    size: nodes,
    spares,
    createStateMachine: () => workload.createStateMachine(),
    ...(workload.digest === undefined
      ? {}
      : { digest: (state: S) => workload.digest?.(state) ?? '' }),
    tuning,
  });
  invariants.incarnation = (id) => cluster.incarnation(id);
  const churnNodes = tuning.members === undefined ? 0 : nodes + spares;
  const drawn = drawSchedule(root.fork('schedule'), profile, nodes, durationMs, churnNodes);
  const positions = options.keep ?? drawn.map((_, i) => i);
  const schedule = positions.map((i) => {
    const f = drawn[i];
    if (f === undefined)
      throw new RangeError(`fault ${i} is not in the schedule (${drawn.length} faults)`);
    return f;
  });
  const nemesis = new Nemesis(scheduler, cluster, network);

  let failure: SimFailure | null = null;
  const fail = (kind: FailureKind, message: string): void => {
    failure ??= { kind, message, atMs: scheduler.now };
  };
  const rate = new EventRateWatch(maxEventsPerSecond);
  /** Runs events until `done()` or `until`; false when the run failed. */
  const runUntil = async (until: number, done: () => boolean = () => false): Promise<boolean> => {
    while (!done()) {
      if (scheduler.executed >= maxEvents) {
        fail('liveness', `more than ${maxEvents} events: the run does not end`);
        return false;
      }
      const livelock = rate.observe(scheduler.now, scheduler.executed);
      if (livelock !== null) {
        fail('liveness', livelock);
        return false;
      }
      if (!(await scheduler.step(until))) {
        scheduler.advanceTo(until);
        return true;
      }
      cluster.checkStep();
      if (invariants.violation !== null) {
        fail('invariant', invariants.violation.message);
        return false;
      }
      if (cluster.failure !== null) {
        fail('node', cluster.failure.message);
        return false;
      }
    }
    return true;
  };

  cluster.startAll();
  nemesis.plan(schedule);
  let stopping = false;
  let clientsDone = false;
  void workload
    .run({ cluster, scheduler, random: root.fork('workload'), stopping: () => stopping })
    .finally(() => {
      clientsDone = true;
    });

  let recoveryMs: number | null = null;
  if (await runUntil(durationMs)) {
    stopping = true;
    nemesis.heal();
    const healedAt = scheduler.now;
    const progress = commitEverywhere(cluster, scheduler, workload, root.fork('liveness'));
    if (await runUntil(healedAt + livenessMs, () => progress.done)) {
      if (progress.done) recoveryMs = scheduler.now - healedAt;
      else {
        fail(
          'liveness',
          `the healed cluster did not commit a command on every node within ${livenessMs} ms (${progress.state})`,
        );
      }
    }
    // The clients' last operations end in an answer or their timeout.
    if (failure === null) await runUntil(scheduler.now + 30_000, () => clientsDone);
  }
  stopping = true;
  let verdict = 'not checked (the run failed first)';
  if (failure === null) {
    const v = workload.check();
    verdict = v.detail;
    if (v.ok === false) fail('linearizability', v.detail);
    else if (v.ok === 'unknown') fail('checker', v.detail);
  }
  const injected = { ...nemesis.injected };
  return {
    seed: options.seed,
    nodes,
    tuning,
    ok: failure === null,
    failure,
    schedule,
    positions,
    injected,
    virtualMs: scheduler.now,
    events: scheduler.executed,
    peakEventsPerSecond: rate.peak,
    recoveryMs,
    leadersElected: invariants.leadersElected,
    network: { ...network.stats },
    cluster: { ...cluster.stats, leaseReads: cluster.leaseReadsServed() },
    workload: workload.stats(),
    verdict,
    replay: replayCommand(options, drawn.length),
  };
}

/**
 * Proposes `workload.livenessCommand` until one is committed, then waits for every node to
 * apply it. `done` turns true then; `state` says how far it got.
 */
function commitEverywhere<S extends StateMachine>(
  cluster: SimCluster<S>,
  scheduler: Scheduler,
  workload: Workload<S>,
  random: SimRandom,
): { readonly done: boolean; readonly state: string } {
  const actor = new Actor('liveness');
  const progress = { done: false, state: 'no command committed' };
  void (async () => {
    // A membership change under way at the heal completes: a leader whose configuration is
    // committed, and not joint.
    progress.state = 'no leader with a committed, non-joint configuration';
    for (;;) {
      const leader = cluster.leader();
      const node = leader === null ? null : cluster.node(leader);
      if (node !== null) {
        const list = node.members();
        if (list.outgoing.length === 0 && list.index <= node.commitIndex) break;
      }
      await new Promise<void>((resolve) => scheduler.after(20, actor, resolve));
    }
    progress.state = 'no command committed';
    let index: number | null = null;
    let target = random.int(cluster.size);
    while (index === null) {
      const command = workload.livenessCommand(scheduler.now);
      const reply = await cluster.request(
        actor,
        target,
        async (node) => {
          await node.propose(command, { timeoutMs: 1000 });
          return node.status().appliedIndex;
        },
        1100,
      );
      if (reply.ok) index = reply.value;
      else {
        target = cluster.leader() ?? random.int(cluster.size);
        await new Promise<void>((resolve) => scheduler.after(50, actor, resolve));
      }
    }
    progress.state = `command committed at ${index}, not yet applied everywhere`;
    for (;;) {
      // Every member of the leader's configuration; nodes outside it (removed, spares) none.
      const leader = cluster.leader();
      const node = leader === null ? null : cluster.node(leader);
      const list = node?.members();
      const members = new Set(
        [...(list?.voters ?? []), ...(list?.learners ?? [])].map((m) => m.id),
      );
      const behind = [...Array(cluster.size).keys()].filter(
        (i) =>
          (list === undefined || members.has(cluster.ids[i] as string)) &&
          (cluster.node(i)?.status().appliedIndex ?? 0) < (index as number),
      );
      if (behind.length === 0) break;
      progress.state = `command committed at ${index}; not applied on ${behind.map((i) => cluster.ids[i]).join(', ')}`;
      await new Promise<void>((resolve) => scheduler.after(20, actor, resolve));
    }
    progress.done = true;
  })();
  return progress;
}

function replayCommand(
  options: Pick<SimulationOptions, 'seed' | 'nodes' | 'durationMs' | 'profile' | 'keep'>,
  drawn: number,
): string {
  const parts = ['npx raftkit sim', `--seed ${options.seed}`];
  if ((options.nodes ?? 3) !== 3) parts.push(`--nodes ${options.nodes}`);
  if ((options.durationMs ?? DEFAULT_DURATION_MS) !== DEFAULT_DURATION_MS) {
    parts.push(`--duration-ms ${options.durationMs}`);
  }
  const profile = options.profile ?? defaultFaultProfile;
  const changed = faultKinds.filter((k) => profile[k] !== defaultFaultProfile[k]);
  if (changed.length > 0)
    parts.push(`--faults ${changed.map((k) => `${k}=${profile[k]}`).join(',')}`);
  if (options.keep !== undefined && options.keep.length !== drawn) {
    parts.push(`--keep ${options.keep.length === 0 ? 'none' : options.keep.join(',')}`);
  }
  return parts.join(' ');
}
