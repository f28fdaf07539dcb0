/**
 * @module
 * The node settings of a run, drawn from its seed. Defaults alone leave whole paths of the
 * protocol cold: with 1 MiB messages an entry always travels with the ones after it, with 256
 * messages in flight a follower never waits for its leader, and with pre-vote on, candidates
 * rarely compete in one term. So each run draws its own limits and timing, within what a user
 * may set, and the same seed always draws the same.
 */
import type { RaftTuning } from '../node/index.js';
import type { SimRandom } from './random.js';

export interface SimTuning {
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly raft: Required<Pick<RaftTuning, 'preVote' | 'checkQuorum'>> & RaftTuning;
  /** Snapshot policy and transfer pieces; none: the node's defaults (no run reaches them). */
  readonly snapshots?: SimSnapshots;
  /** Membership churn: spare nodes, and changes of members during the run; none: fixed members. */
  readonly members?: SimMembers;
  /** Lease reads (`readMode: 'lease'`); absent: ReadIndex. */
  readonly readMode?: 'lease';
}

export interface SimMembers {
  /** Nodes started empty beside the members, to join the cluster (`join: true`). */
  readonly spares: number;
}

export interface SimSnapshots {
  readonly snapshotEntries: number;
  readonly snapshotKeepEntries: number;
  readonly transfer: { readonly chunkBytes: number };
}

/** Node defaults: a heartbeat every 100 ms, elections after 1–2 s, pre-vote and check-quorum. */
export const defaultTuning: SimTuning = {
  heartbeatMs: 100,
  electionMs: 1000,
  raft: { preVote: true, checkQuorum: true },
};

/** Half the runs keep each default; the others take a value drawn from its range. */
export function drawTuning(random: SimRandom): SimTuning {
  const raft: { -readonly [K in keyof RaftTuning]: RaftTuning[K] } = {
    preVote: !random.chance(0.3),
    checkQuorum: !random.chance(0.3),
  };
  // Small messages: a few entries each, so a leader's entries reach a follower apart.
  if (random.chance(0.5)) raft.maxAppendBytes = random.between(64, 1024);
  // A short window: a follower in trouble holds its leader back.
  if (random.chance(0.5)) raft.maxInflightMessages = random.between(1, 8);
  const fast = random.chance(0.5);
  const heartbeatMs = fast ? random.between(20, 100) : defaultTuning.heartbeatMs;
  const electionMs = fast ? heartbeatMs * random.between(3, 10) : defaultTuning.electionMs;
  const snapshots = drawSnapshots(random.fork('snapshots'));
  const members = drawMembers(random.fork('members'));
  // Half the runs with check-quorum serve reads under a lease, drawn from a stream of its own.
  const lease = raft.checkQuorum === true && random.fork('reads').chance(0.5);
  return {
    heartbeatMs,
    electionMs,
    raft: raft as SimTuning['raft'],
    ...(snapshots === null ? {} : { snapshots }),
    ...(members === null ? {} : { members }),
    ...(lease ? { readMode: 'lease' as const } : {}),
  };
}

/**
 * Half the runs change their members as they go (the nemesis's `member` faults), with one or
 * two spare nodes to add. Drawn from a stream of its own, like the snapshot settings.
 */
function drawMembers(random: SimRandom): SimMembers | null {
  if (!random.chance(0.5)) return null;
  return { spares: random.between(1, 2) };
}

/**
 * Half the runs snapshot every 10 to 200 entries, keeping 20 entries or none
 * behind, so that followers which fall behind (crashed, cut off) are sent snapshots in small
 * pieces. Drawn from a stream of its own: the other settings stay as they were drawn.
 */
function drawSnapshots(random: SimRandom): SimSnapshots | null {
  if (!random.chance(0.5)) return null;
  return {
    snapshotEntries: random.between(10, 200),
    snapshotKeepEntries: random.chance(0.4) ? 0 : random.between(1, 20),
    transfer: { chunkBytes: random.between(256, 4096) },
  };
}

/** One line for reports: only what differs from the defaults. */
export function describeTuning(t: SimTuning): string {
  const parts: string[] = [];
  if (t.heartbeatMs !== defaultTuning.heartbeatMs || t.electionMs !== defaultTuning.electionMs) {
    parts.push(`heartbeat ${t.heartbeatMs} ms, election ${t.electionMs} ms`);
  }
  if (!t.raft.preVote) parts.push('no pre-vote');
  if (!t.raft.checkQuorum) parts.push('no check-quorum');
  if (t.readMode === 'lease') parts.push('lease reads');
  if (t.raft.maxAppendBytes !== undefined) parts.push(`messages of ${t.raft.maxAppendBytes} B`);
  if (t.raft.maxInflightMessages !== undefined) {
    parts.push(`${t.raft.maxInflightMessages} in flight`);
  }
  const snap = t.snapshots;
  if (snap !== undefined) {
    parts.push(
      `snapshots every ${snap.snapshotEntries} entries keeping ${snap.snapshotKeepEntries}, ` +
        `sent in ${snap.transfer.chunkBytes} B pieces`,
    );
  }
  if (t.members !== undefined) parts.push(`membership churn with ${t.members.spares} spare(s)`);
  return parts.length === 0 ? 'defaults' : parts.join(', ');
}
