/**
 * @module
 * `raftkit node --join`: a new node, started on an empty data directory, asks the cluster
 * at the given HTTP endpoints to add it as a learner; the leader connects to it and sends it
 * the log or a snapshot (the configuration, with every member's address, and the cluster's
 * identity come with them); once it has caught up, it asks to be promoted to voter (unless
 * `--learner`). A node whose directory already holds a log is a member already: it starts
 * as that member and asks nothing.
 */
import { MembershipChangeError, type MembershipRefusal } from '../core/index.js';
import { type KvStore, RaftkitClient, type RaftkitClientOptions } from '../kv/index.js';
import type { NodeLogger, RaftNode } from '../node/index.js';

export interface JoinOptions {
  readonly endpoints: readonly string[];
  /** This node's Raft address, which the other members dial. */
  readonly address: string;
  /** Stay a learner; do not ask to be promoted. */
  readonly learner: boolean;
  readonly logger: NodeLogger;
  /** The token (an admin's: adding a member needs it) and TLS options of the cluster's API. */
  readonly security?: Pick<RaftkitClientOptions, 'token' | 'tls'>;
  /** Give up after this long. Default 10 minutes (a large snapshot takes time to arrive). */
  readonly timeoutMs?: number;
}

/** What joining did: asked to be added (and promoted), or nothing (a member already). */
export type JoinOutcome = 'joined-as-voter' | 'joined-as-learner' | 'already-member';

export async function joinCluster(
  node: RaftNode<KvStore>,
  options: JoinOptions,
): Promise<JoinOutcome> {
  const status = node.status();
  if (status.lastIndex > 0 || status.snapshotIndex > 0) {
    options.logger.info(
      { lastIndex: status.lastIndex },
      'the data directory holds a log: starting as the member it records, --join ignored',
    );
    return 'already-member';
  }
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const deadline = performance.now() + timeoutMs;
  const left = (): number => Math.max(1, deadline - performance.now());
  const client = new RaftkitClient({
    endpoints: options.endpoints,
    timeoutMs,
    attemptTimeoutMs: 60_000,
    ...options.security,
  });
  try {
    await retrying(left, ['change-in-progress', 'not-ready'], ['already-member'], () =>
      client.addMember(node.id, options.address, { learner: true, timeoutMs: left() }),
    );
    // Where it was added (added already: the configuration in force has it): the log before
    // that is an earlier life's, whatever it says of this id.
    node.joined((await client.members({ timeoutMs: left() })).index);
    options.logger.info({ id: node.id }, 'added as a learner; catching up');
    if (options.learner) return 'joined-as-learner';
    await caughtUp(node, left);
    await retrying(
      left,
      ['change-in-progress', 'not-ready', 'not-caught-up'],
      ['already-member'],
      () => client.promoteMember(node.id, { timeoutMs: left() }),
    );
    options.logger.info({ id: node.id }, 'promoted to voter');
    return 'joined-as-voter';
  } finally {
    client.close();
  }
}

/** Runs `f` until it succeeds, retrying the refusals `retry`; `done` counts as success. */
async function retrying(
  left: () => number,
  retry: readonly MembershipRefusal[],
  done: readonly MembershipRefusal[],
  f: () => Promise<unknown>,
): Promise<void> {
  for (;;) {
    try {
      await f();
      return;
    } catch (e) {
      if (!(e instanceof MembershipChangeError)) throw e;
      if (done.includes(e.reason)) return;
      if (!retry.includes(e.reason) || left() < 250) throw e;
      await new Promise((r) => setTimeout(r, Math.min(250, left())));
    }
  }
}

/** Until this node has learned its configuration and applied what it knows committed. */
async function caughtUp(node: RaftNode<KvStore>, left: () => number): Promise<void> {
  for (;;) {
    const s = node.status();
    if (s.learners.includes(node.id) && s.commitIndex > 0 && s.appliedIndex >= s.commitIndex) {
      return;
    }
    if (left() < 50) throw new Error('timed out catching up with the cluster');
    await new Promise((r) => setTimeout(r, 50));
  }
}
