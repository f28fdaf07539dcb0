/**
 * @module
 * Membership churn, the nemesis's `member` faults: changes of the cluster's members asked of
 * whichever node leads, while the other faults go on. Each change is a client request to the
 * leader (lost with it if it crashes, given up after a while); a refusal is part of the game
 * (a change already in progress, a learner not caught up) and is only counted.
 */
import type { MemberChange } from '../core/index.js';
import type { StateMachine } from '../node/index.js';
import type { SimCluster, SimNode } from './cluster.js';
import type { MemberOp } from './faults.js';
import { Actor, type Scheduler } from './scheduler.js';

/** How long one change may take, catch-up included (virtual milliseconds). */
const CHANGE_TIMEOUT_MS = 5000;

/** Fewer voters than this, and a removal is not asked for. */
const MIN_VOTERS = 2;

export class Churn<S extends StateMachine> {
  readonly #cluster: SimCluster<S>;
  readonly #scheduler: Scheduler;
  readonly #actor = new Actor('membership');
  /** One operation at a time: the next waits (or is skipped, if one is under way). */
  #busy = false;

  constructor(cluster: SimCluster<S>, scheduler: Scheduler) {
    this.#cluster = cluster;
    this.#scheduler = scheduler;
  }

  /** Starts `op` on `node` (and `other`); false if nothing could be asked now. */
  start(op: MemberOp, node: number, other: number): boolean {
    if (this.#busy) return false;
    const leader = this.#cluster.leader();
    if (leader === null && op !== 'wipe') return false;
    this.#busy = true;
    void this.#run(op, node, other).finally(() => {
      this.#busy = false;
    });
    return true;
  }

  async #run(op: MemberOp, node: number, other: number): Promise<void> {
    const c = this.#cluster;
    const id = c.ids[node] as string;
    const otherId = c.ids[other] as string;
    const config = this.#config();
    if (config === null) return;
    const { voters, members } = config;
    switch (op) {
      case 'add':
        if (!members.has(id)) await this.#add(id, (n) => n.addVoter(id, id, timeout()));
        return;
      case 'remove':
        if (members.has(id) && (voters.size > MIN_VOTERS || !voters.has(id))) {
          await this.#ask((n) => n.removeMember(id, timeout()));
        }
        return;
      case 'replace': {
        // A member dies; it is removed, and a node that is none takes its place.
        if (!voters.has(id) || voters.size <= MIN_VOTERS) return;
        const spare = c.ids.find((x) => !members.has(x));
        if (spare === undefined) return;
        c.crash(node, 10_000);
        if (!(await this.#ask((n) => n.removeMember(id, timeout())))) return;
        await this.#add(spare, (n) => n.addVoter(spare, spare, timeout()));
        return;
      }
      case 'joint': {
        // A non-member in place of a voter, in one change: through the joint configuration.
        if (members.has(id) || !voters.has(otherId)) return;
        if (!(await this.#add(id, (n) => n.addLearner(id, id, timeout())))) return;
        await this.#caughtUp(id);
        const changes: MemberChange[] = [
          { type: 'add-voter', id },
          { type: 'remove', id: otherId },
        ];
        if (await this.#ask((n) => n.changeMembership(changes, timeout()))) {
          this.#cluster.stats.jointChanges++;
        }
        return;
      }
      case 'double': {
        // Two single-server changes at once, a voter out and a learner in: the second must
        // wait for the first to commit (both in flight, the old and the newest voters could
        // form disjoint majorities).
        if (!voters.has(otherId) || voters.size <= MIN_VOTERS || voters.has(id)) return;
        if (!members.has(id)) {
          if (!(await this.#add(id, (n) => n.addLearner(id, id, timeout())))) return;
          await this.#caughtUp(id);
        }
        await Promise.all([
          this.#ask((n) => n.removeMember(otherId, timeout())),
          this.#ask((n) => n.promote(id, timeout())),
        ]);
        return;
      }
      case 'wipe':
        // Only a node that is no member: it comes back empty, a spare to add later.
        if (!members.has(id)) c.wipe(node, 500);
        return;
    }
  }

  /** The configuration the leader has in force, or null with no leader. */
  #config(): { voters: Set<string>; members: Set<string> } | null {
    const leader = this.#cluster.leader();
    const node = leader === null ? null : this.#cluster.node(leader);
    if (node === null) return null;
    const list = node.members();
    const voters = new Set(list.voters.map((v) => v.id));
    for (const v of list.outgoing) voters.add(v.id);
    const members = new Set(voters);
    for (const l of list.learners) members.add(l.id);
    return { voters, members };
  }

  /** Asks the leader of now for a change; whether it applied there. */
  async #ask(change: (node: SimNode<S>) => Promise<unknown>): Promise<boolean> {
    const leader = this.#cluster.leader();
    if (leader === null) return false;
    const reply = await this.#cluster.request(
      this.#actor,
      leader,
      (n) => change(n),
      CHANGE_TIMEOUT_MS + 500,
    );
    if (reply.ok) this.#cluster.stats.memberChanges++;
    else this.#cluster.stats.memberRefusals++;
    return reply.ok;
  }

  /**
   * Adds `id` through the leader and, once added, tells the new node at which configuration
   * (as `raftkit node --join` does when the cluster answers it).
   */
  async #add(
    id: string,
    change: (node: SimNode<S>) => Promise<{ readonly index: number }>,
  ): Promise<boolean> {
    let index = 0;
    const ok = await this.#ask(async (n) => {
      index = (await change(n)).index;
    });
    const i = this.#cluster.indexOf(id);
    const node = i === null ? null : this.#cluster.node(i);
    if (ok) node?.joined(index);
    return ok;
  }

  /** Waits a little for a learner to catch up (a promotion before then is refused). */
  async #caughtUp(id: string): Promise<void> {
    for (let tries = 0; tries < 20; tries++) {
      const leader = this.#cluster.leader();
      const node = leader === null ? null : this.#cluster.node(leader);
      const i = this.#cluster.indexOf(id);
      const learner = i === null ? null : this.#cluster.node(i);
      if (node !== null && learner !== null) {
        if (learner.status().appliedIndex >= node.commitIndex) return;
      }
      await new Promise<void>((resolve) => this.#scheduler.after(100, this.#actor, resolve));
    }
  }
}

function timeout(): { timeoutMs: number } {
  return { timeoutMs: CHANGE_TIMEOUT_MS };
}
