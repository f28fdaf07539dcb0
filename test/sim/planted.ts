/**
 * Known Raft bugs, planted one at a time in a copy of the sources (never in the build): each
 * is a textual edit of one place in `src/`, applied to a copy under `.planted/<name>/`, whose
 * simulator is then imported and run. An edit whose text is no longer found fails loudly, so
 * the bugs follow the code as it changes.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ShrinkOptions, Shrunk, SimResult, SimulationOptions } from '../../src/sim/index.js';

export interface PlantedBug {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

export const plantedBugs: readonly PlantedBug[] = [
  {
    name: 'vote-before-persist',
    description:
      'a vote is sent before it is persisted (it goes out with the leader-only early messages)',
    file: 'core/raft.ts',
    find: "if (this.role === 'leader') this.messages.push(m);",
    replace: "if (this.role === 'leader' || m.type === 'vote-response') this.messages.push(m);",
  },
  {
    name: 'commit-previous-term',
    description: "a leader commits an earlier term's entry by counting replicas (figure 8)",
    file: 'core/log.ts',
    find: 'if (index > this.committed && this.term(index) === term) {',
    replace: 'if (index > this.committed && this.term(index) !== undefined && term > 0) {',
  },
  {
    name: 'read-without-readindex',
    description: 'a leader answers reads with its commit index, without a quorum round',
    file: 'core/raft.ts',
    find: `      this.reads.enqueue({ from: this.id, context });
      return;`,
    replace: `      this.readStates.push({ context, index: this.log.committed });
      return;`,
  },
  {
    name: 'truncate-acknowledged',
    description: 'a follower cuts its log after every append, dropping entries it acknowledged',
    file: 'core/log.ts',
    find: 'const conflict = this.findConflict(entries);',
    replace: 'const conflict = entries.length > 0 ? prevIndex + 1 : 0;',
  },
  {
    name: 'backtrack-off-by-one',
    description:
      'on a rejection the leader moves next one index too far: it probes a follower that is behind at the same index forever',
    file: 'core/progress.ts',
    find: 'this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);',
    replace: 'this.next = Math.max(Math.min(rejected + 1, matchHint + 2), this.match + 1);',
  },
  {
    name: 'append-without-prev-check',
    description: "a follower appends without checking the entry before the leader's entries",
    file: 'core/log.ts',
    find: 'if (!this.matchTerm(prevIndex, prevTerm)) return undefined;',
    replace: 'if (prevIndex > this.lastIndex()) return undefined;',
  },
  {
    name: 'snapshot-not-synced',
    description:
      'a snapshot file is renamed into place without its data fsynced: power lost after the log is compacted behind it leaves neither',
    file: 'storage/snapshot-file.ts',
    find: `      await this.#handle.write(endRecord(this.#bytes, this.#crc), this.#at);
      await this.#handle.sync();`,
    replace: '      await this.#handle.write(endRecord(this.#bytes, this.#crc), this.#at);',
  },
  {
    name: 'compact-before-durable',
    description:
      'a node compacts its log while its snapshot is still being written: the segments go before the snapshot covering them is durable',
    file: 'node/snapshots.ts',
    find: `      const file = await (storage.writeSnapshot as NonNullable<DurableStorage['writeSnapshot']>)(
        meta,
        chunks,
      );
      this.#lastIndex = meta.index;
      await (storage.compact as NonNullable<DurableStorage['compact']>)(
        Math.max(0, meta.index - this.#keep),
      );`,
    replace: `      const writing = (storage.writeSnapshot as NonNullable<DurableStorage['writeSnapshot']>)(
        meta,
        chunks,
      );
      this.#lastIndex = meta.index;
      await (storage.compact as NonNullable<DurableStorage['compact']>)(
        Math.max(0, meta.index - this.#keep),
      );
      const file = await writing;`,
  },
  {
    name: 'install-before-durable',
    description:
      "a follower hands the leader's snapshot to the core (which installs it and answers) before the file it is written to is durable",
    file: 'node/snapshot-transfer.ts',
    find: `    try {
      await incoming.written;
    } catch (e) {`,
    replace: `    try {
      void incoming.written;
    } catch (e) {`,
  },
  {
    name: 'snapshot-never-sent',
    description:
      'a leader never sends a snapshot: a follower that needs compacted entries waits forever',
    file: 'core/raft.ts',
    find: 'if (prevTerm === undefined) return this.#sendSnapshot(to, pr);',
    replace: 'if (prevTerm === undefined) return false;',
  },
  {
    name: 'install-without-restore',
    description:
      "a follower installs the leader's snapshot in its log but keeps its state machine as it was",
    file: 'node/raft-node.ts',
    find: `      sync: true,
    });
    const header = await restoreFrom(this.#storage, this.stateMachine, file);`,
    replace: `      sync: true,
    });
    const header = { logTime: this.#logClock.time, cluster: null };`,
  },
  {
    name: 'two-changes-in-flight',
    description:
      'a leader takes a second membership change while the first is not committed: two single-server steps at once can join disjoint majorities',
    file: 'core/raft.ts',
    find: 'return this.log.configs.latestIndex() > this.log.committed || isJoint(this.membership);',
    replace: 'return isJoint(this.membership);',
  },
  {
    name: 'joint-left-early',
    description:
      'a leader appends the configuration that leaves a joint one right after it, before the joint one is committed',
    file: 'core/raft.ts',
    find: `    const index = this.#appendConfig(plan.next);
    return { term: this.term, firstIndex: index, lastIndex: index };`,
    replace: `    const index = this.#appendConfig(plan.next);
    if (isJoint(plan.next)) this.#appendConfig(leaveJoint(plan.next));
    return { term: this.term, firstIndex: index, lastIndex: index };`,
  },
  {
    name: 'leader-ignores-uncommitted-config',
    description:
      'a leader counts majorities in the last committed configuration, ignoring a newer one in its log that is not committed yet',
    file: 'core/raft.ts',
    find: `  get membership(): Membership {
    return this.log.configs.latest();
  }`,
    replace: `  get membership(): Membership {
    if (this.role === 'leader') return this.log.configs.at(this.log.committed);
    return this.log.configs.latest();
  }`,
  },
  {
    name: 'snapshot-matched-by-index',
    description:
      "a follower takes a snapshot's last entry as held when it has any entry at that index, keeping a conflicting log",
    file: 'core/raft.ts',
    find: 'if (this.log.matchTerm(s.index, s.term)) {',
    replace: 'if (s.index <= this.log.lastIndex()) {',
  },
  {
    name: 'ack-before-write',
    description:
      'with writes overlapped, a follower acknowledges entries (and a voter its vote) as their write begins, not once it is durable',
    file: 'core/ready-order.ts',
    find: `  const written = handler.persist(rd);
  handler.apply(rd);`,
    replace: `  const written = handler.persist(rd);
  handler.send(rd.messagesAfterPersist);
  handler.apply(rd);`,
  },
  {
    name: 'leader-counts-write-begun',
    description:
      'with writes overlapped, the leader counts its own entries toward a quorum once their write begins, not once it is durable',
    file: 'core/raw-node.ts',
    find: 'if (lastEntry !== undefined) log.unstable.handedOut(lastEntry.index, lastEntry.term);',
    replace: `if (lastEntry !== undefined) log.unstable.handedOut(lastEntry.index, lastEntry.term);
    if (lastEntry !== undefined) this.#raft.persisted(lastEntry.index, lastEntry.term);`,
  },
  {
    name: 'lease-too-long',
    description:
      "a leader's read lease outlasts the followers' promise not to elect another (three election timeouts)",
    file: 'node/reads.ts',
    find: 'return Math.max(0, (electionTicks - 2) * tickMs * (1 - MAX_CLOCK_DRIFT));',
    replace: 'return Math.max(0, 3 * electionTicks * tickMs);',
  },
  {
    name: 'lease-ignores-wall-clock',
    description:
      "a leader's read lease trusts its monotonic clock alone, which stops while the node is paused (a suspended machine)",
    file: 'node/reads.ts',
    find: 'if (wall === null) return true;',
    replace: 'if (wall === null || wall !== null) return true;',
  },
  {
    name: 'joiner-thinks-itself-removed',
    description:
      'a node that joins takes a configuration that leaves it out for its removal: that of the snapshot it is sent (taken before it was added), or of an earlier member under its id in the log it is sent; `raftkit node` then stops itself',
    file: 'node/members.ts',
    find: `    if (this.#removedAt !== null || this.#joining) return;
    const { raw, id } = this.#ctx;
    const m = raw.membership();
    if (m.voters.size === 0) return;
    if (isMember(m, id)) {
      this.#wasMember = true;
      return;
    }
    const index = raw.membershipIndex();
    if (raw.commitIndex < index || index <= this.#joinedAt) return;`,
    replace: `    if (this.#removedAt !== null) return;
    const { raw, id } = this.#ctx;
    const m = raw.membership();
    if (m.voters.size === 0) return;
    if (isMember(m, id)) return;
    const index = raw.membershipIndex();
    if (raw.commitIndex < index) return;
    this.#removedAt = index;
    this.#ctx.removed(index);
    if (index >= 0) return;`,
  },
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

type Simulate = (options: SimulationOptions) => Promise<SimResult>;

/** The simulator and shrinker of a build with a bug planted. */
export interface PlantedBuild {
  readonly simulate: Simulate;
  readonly shrink: (
    options: SimulationOptions,
    failed: SimResult,
    shrinkOptions?: ShrinkOptions,
  ) => Promise<Shrunk>;
}

/** The simulator and shrinker of a copy of `src/` with `bug` planted. */
export async function plantedBuild(bug: PlantedBug): Promise<PlantedBuild> {
  const copy = join(root, '.planted', bug.name);
  rmSync(copy, { recursive: true, force: true });
  cpSync(join(root, 'src'), join(copy, 'src'), { recursive: true });
  const file = join(copy, 'src', bug.file);
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(bug.find);
  if (at < 0 || text.indexOf(bug.find, at + 1) >= 0) {
    throw new Error(
      `${bug.name}: the text to replace is not found exactly once in src/${bug.file}`,
    );
  }
  writeFileSync(file, text.replace(bug.find, bug.replace));
  const entry = join(copy, 'src', 'sim', 'index.ts');
  if (!existsSync(entry)) throw new Error(`${entry} missing`);
  const sim = (await import(pathToFileURL(entry).href)) as PlantedBuild;
  return { simulate: sim.simulate, shrink: sim.shrink };
}
