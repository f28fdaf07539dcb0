/**
 * @module
 * Faults, and the schedule of them a seed draws. A run's faults are decided before it starts:
 * for every virtual second, each kind of fault is injected with its own probability (the
 * profile), with parameters drawn from the same stream. The schedule is a plain list, so the
 * shrinker can replay a run with some of its faults left out.
 *
 * Nodes are named by their position (0 to n - 1), so a schedule means the same in any run
 * of the same size.
 */
import type { SimRandom } from './random.js';

export type FaultAction =
  /** Power loss on these nodes; each comes back after `downMs`. */
  | { readonly kind: 'crash'; readonly nodes: readonly number[]; readonly downMs: number }
  /** Power loss on this node in the middle of its next fsync. */
  | { readonly kind: 'crash-in-fsync'; readonly node: number; readonly downMs: number }
  /** Power loss on this node while it writes the next vote it grants or casts. */
  | { readonly kind: 'crash-in-vote'; readonly node: number; readonly downMs: number }
  /**
   * Power loss on this node during its next snapshot step (writing a snapshot it takes or
   * receives, compacting its log behind one, installing the leader's), as the step's
   * `step`-th fsync or directory change starts (0: the first).
   */
  | {
      readonly kind: 'crash-in-snapshot';
      readonly node: number;
      readonly step: number;
      readonly downMs: number;
    }
  /** Power loss on whichever node leads at that moment. */
  | { readonly kind: 'crash-leader'; readonly downMs: number }
  /** A clean stop and start (nothing lost): the disk keeps even what was not synced. */
  | { readonly kind: 'restart'; readonly node: number; readonly downMs: number }
  /** The node's process stops (SIGSTOP): no timer, no message, no I/O completes; its clock stops. */
  | { readonly kind: 'pause'; readonly node: number; readonly ms: number }
  /** Every link between `side` and the other nodes cut both ways: isolation, minority/majority. */
  | { readonly kind: 'partition'; readonly side: readonly number[]; readonly ms: number }
  /** The node leading at that moment cut off from the others. */
  | { readonly kind: 'isolate-leader'; readonly ms: number }
  /**
   * The next node to win an election cut off from the others as it wins, before anything it
   * sends as leader leaves: a leader whose first entries reach no one (Raft paper, figure 8).
   */
  | { readonly kind: 'isolate-new-leader'; readonly ms: number }
  /** Links from `from` to `to` cut in that direction only. */
  | {
      readonly kind: 'one-way';
      readonly from: readonly number[];
      readonly to: readonly number[];
      readonly ms: number;
    }
  /** For `ms`, messages lost, duplicated, reordered and delayed with these probabilities. */
  | {
      readonly kind: 'lossy';
      readonly ms: number;
      readonly loss: number;
      readonly duplicate: number;
      readonly reorder: number;
      readonly spike: number;
    }
  /** fsyncs of this node take 20 to 300 ms for `ms`. */
  | { readonly kind: 'slow-disk'; readonly node: number; readonly ms: number }
  /** The node's clock runs at `rate` from now on (1.05: 5 % fast). */
  | { readonly kind: 'drift'; readonly node: number; readonly rate: number }
  /**
   * A membership change through the leader (runs with churn only; see `memberOps`). `node`
   * is the one changed, `other` a second one for the changes that need two.
   */
  | {
      readonly kind: 'member';
      readonly op: MemberOp;
      readonly node: number;
      readonly other: number;
    };

/**
 * - `add`: the node becomes a voter (learner, catch-up, promotion);
 * - `remove`: it leaves (kept: at least two voters);
 * - `replace`: it is crashed and removed, and a node that is not a member is added instead;
 * - `joint`: a non-member (`node`) is added as a learner, then replaces a voter (`other`) in
 *   one change, through the joint configuration;
 * - `double`: `other`, a voter, removed and `node` promoted (added as a learner first) at
 *   once: the second must be refused while the first is not committed;
 * - `wipe`: a node that is no member loses its disk and starts again empty, to join later.
 */
export type MemberOp = 'add' | 'remove' | 'replace' | 'joint' | 'double' | 'wipe';

export const memberOps: readonly MemberOp[] = [
  'add',
  'remove',
  'replace',
  'joint',
  'double',
  'wipe',
];

export type FaultKind = FaultAction['kind'];

export const faultKinds: readonly FaultKind[] = [
  'crash',
  'crash-in-fsync',
  'crash-in-vote',
  'crash-leader',
  'restart',
  'pause',
  'partition',
  'isolate-leader',
  'isolate-new-leader',
  'one-way',
  'lossy',
  'slow-disk',
  'drift',
  'crash-in-snapshot',
  'member',
];

export type ScheduledFault = FaultAction & { readonly at: number };

/** Probability of each kind of fault being injected in a given virtual second. */
export type FaultProfile = Readonly<Record<FaultKind, number>>;

export const defaultFaultProfile: FaultProfile = {
  crash: 0.05,
  'crash-in-fsync': 0.05,
  'crash-in-vote': 0.05,
  'crash-leader': 0.05,
  restart: 0.03,
  pause: 0.05,
  partition: 0.06,
  'isolate-leader': 0.05,
  'isolate-new-leader': 0.05,
  'one-way': 0.03,
  lossy: 0.08,
  'slow-disk': 0.05,
  drift: 0.03,
  'crash-in-snapshot': 0.05,
  member: 0.3,
};

/** No faults at all: a healthy run. */
export const noFaults: FaultProfile = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<
  FaultKind,
  number
>;

/**
 * The faults of a run of `durationMs` on `nodes` nodes, in time order; with `churnNodes`
 * (members and spares), membership changes among them too, drawn from a stream of their own
 * so that the other faults of a seed stay what they were.
 */
export function drawSchedule(
  random: SimRandom,
  profile: FaultProfile,
  nodes: number,
  durationMs: number,
  churnNodes = 0,
): ScheduledFault[] {
  const all = [...Array(nodes).keys()];
  const minority = Math.floor((nodes - 1) / 2);
  const schedule: ScheduledFault[] = [];
  const span = (low: number, high: number): number => random.between(low, high);
  for (let second = 0; second * 1000 < durationMs; second++) {
    for (const kind of faultKinds) {
      if (kind === 'member') continue;
      if (!random.chance(profile[kind])) continue;
      const at = second * 1000 + random.int(1000);
      const node = random.int(nodes);
      let action: FaultAction;
      switch (kind) {
        case 'crash': {
          // Mostly one node; sometimes several, up to a majority (the cluster then waits).
          const count = random.chance(0.7) ? 1 : random.between(2, minority + 1);
          action = { kind, nodes: random.sample(all, count).sort(), downMs: span(100, 4000) };
          break;
        }
        case 'crash-in-fsync':
        case 'crash-in-vote':
          action = { kind, node, downMs: span(100, 4000) };
          break;
        case 'crash-in-snapshot':
          action = { kind, node, step: random.int(5), downMs: span(100, 4000) };
          break;
        case 'crash-leader':
          action = { kind, downMs: span(100, 4000) };
          break;
        case 'restart':
          action = { kind, node, downMs: span(0, 2000) };
          break;
        case 'pause':
          action = { kind, node, ms: span(200, 4000) };
          break;
        case 'partition': {
          const size = random.chance(0.5) ? 1 : random.between(1, minority);
          action = { kind, side: random.sample(all, size).sort(), ms: span(300, 5000) };
          break;
        }
        case 'isolate-leader':
        case 'isolate-new-leader':
          action = { kind, ms: span(300, 5000) };
          break;
        case 'one-way': {
          const from = random.sample(all, random.between(1, minority));
          const to = all.filter((n) => !from.includes(n));
          action = {
            kind,
            from: from.sort(),
            to: random.sample(to, random.between(1, to.length)).sort(),
            ms: span(300, 4000),
          };
          break;
        }
        case 'lossy':
          action = {
            kind,
            ms: span(500, 5000),
            loss: round(random.float() * 0.3),
            duplicate: round(random.float() * 0.2),
            reorder: round(random.float() * 0.5),
            spike: round(random.float() * 0.05),
          };
          break;
        case 'slow-disk':
          action = { kind, node, ms: span(500, 5000) };
          break;
        case 'drift':
          action = { kind, node, rate: round(0.9 + random.float() * 0.2) };
          break;
      }
      schedule.push({ ...action, at });
    }
  }
  if (churnNodes > 0)
    schedule.push(...drawChurn(random.fork('churn'), profile, churnNodes, durationMs));
  return schedule.sort((a, b) => a.at - b.at);
}

function drawChurn(
  random: SimRandom,
  profile: FaultProfile,
  nodes: number,
  durationMs: number,
): ScheduledFault[] {
  const out: ScheduledFault[] = [];
  for (let second = 0; second * 1000 < durationMs; second++) {
    if (!random.chance(profile.member)) continue;
    const at = second * 1000 + random.int(1000);
    const op = random.pick(memberOps);
    const node = random.int(nodes);
    const other = (node + 1 + random.int(nodes - 1)) % nodes;
    out.push({ kind: 'member', op, node, other, at });
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** One line per fault, for reports. */
export function describeFault(f: ScheduledFault): string {
  const { at, kind, ...rest } = f;
  const params = Object.entries(rest)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(' ');
  return `${(at / 1000).toFixed(3)}s ${kind} ${params}`;
}

/** Parses `kind=p,kind=p` over the default profile. */
export function parseProfile(text: string, base: FaultProfile = defaultFaultProfile): FaultProfile {
  const profile: Record<string, number> = { ...base };
  if (text.trim() === 'none') return noFaults;
  for (const part of text.split(',')) {
    const [kind, value] = part.split('=');
    if (kind === undefined || !faultKinds.includes(kind as FaultKind)) {
      throw new RangeError(
        `unknown fault ${String(kind)}: expected one of ${faultKinds.join(', ')}`,
      );
    }
    const p = Number(value);
    if (value === undefined || value.trim() === '' || !(p >= 0 && p <= 1)) {
      throw new RangeError(
        `fault ${kind}: expected a probability from 0 to 1, got ${String(value)}`,
      );
    }
    profile[kind] = p;
  }
  return profile as FaultProfile;
}
