/**
 * @module
 * The cluster a verify run starts: `raftkit node` processes in slots, each slot with fixed
 * addresses (in its own network namespace when partitions are possible, else on loopback).
 * The first `nodes` slots form the cluster; the spare ones are for members that join during
 * the run. A slot's node may be replaced by a new one on an empty data directory (its
 * `life`), as an operator replaces a machine.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { NamespaceNetwork } from './netns.js';
import { NodeProcess, type StatusSnapshot, statusOf } from './node-process.js';
import { noteNode } from './orphans.js';
import { sleep } from './workload.js';

export interface ClusterOptions {
  readonly nodes: number;
  /** Slots beyond `nodes`, for members that join. */
  readonly spares: number;
  readonly dir: string;
  /** Extra `raftkit node` flags for every node. */
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly network: NamespaceNetwork | null;
  readonly bin?: string;
}

export interface Slot {
  readonly index: number;
  readonly raft: string;
  readonly http: string;
  readonly url: string;
  /** The node now in this slot, or null (never started, or removed and gone). */
  node: NodeProcess | null;
  /** How many nodes this slot has had (each on a data directory of its own). */
  lives: number;
}

interface MemberIds {
  readonly index: number;
  readonly voters: readonly { readonly id: string }[];
  readonly learners: readonly { readonly id: string }[];
}

/** GET /v1/members of the node at `url` as its leader knows them, or null. */
async function membersOf(url: string): Promise<MemberIds | null> {
  try {
    const r = await fetch(`${url}/v1/members`, { signal: AbortSignal.timeout(1000) });
    if (r.status !== 200) return null;
    const body = (await r.json()) as MemberIds;
    const ok = Array.isArray(body.voters) && Array.isArray(body.learners);
    return ok && typeof body.index === 'number' ? body : null;
  } catch {
    return null;
  }
}

/** `count` free TCP ports on 127.0.0.1 (each bound then closed). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export class VerifyCluster {
  readonly slots: Slot[];
  readonly o: ClusterOptions;
  /** Nodes that a slot had before its current one (their logs are closed at the end). */
  readonly #retired: NodeProcess[] = [];

  private constructor(options: ClusterOptions, slots: Slot[]) {
    this.o = options;
    this.slots = slots;
  }

  static async create(options: ClusterOptions): Promise<VerifyCluster> {
    const total = options.nodes + options.spares;
    const net = options.network;
    let addresses: { raft: string; http: string }[];
    if (net !== null) {
      addresses = Array.from({ length: total }, (_, i) => ({
        raft: net.raftAddress(i),
        http: net.httpAddress(i),
      }));
    } else {
      const ports = await freePorts(2 * total);
      addresses = Array.from({ length: total }, (_, i) => ({
        raft: `127.0.0.1:${ports[i]}`,
        http: `127.0.0.1:${ports[total + i]}`,
      }));
    }
    mkdirSync(options.dir, { recursive: true });
    const slots = addresses.map((a, index) => ({
      index,
      ...a,
      url: `http://${a.http}`,
      node: null,
      lives: 0,
    }));
    return new VerifyCluster(options, slots);
  }

  get urls(): string[] {
    return this.slots.map((s) => s.url);
  }

  /** The slots whose node is meant to be a member now (started and not removed). */
  get members(): Slot[] {
    return this.slots.filter((s) => s.node !== null);
  }

  /** Starts the initial members. */
  startAll(): void {
    const peers = this.slots.slice(0, this.o.nodes).map((s) => s.raft);
    for (const slot of this.slots.slice(0, this.o.nodes)) this.#newLife(slot, { peers }).start();
  }

  /** A new node in the free `slot`, joining the running cluster (as a learner if asked). */
  join(slot: Slot, learner: boolean): NodeProcess {
    const others = this.members.map((s) => s.url);
    const node = this.#newLife(slot, { join: others, learner });
    node.start();
    return node;
  }

  #newLife(
    slot: Slot,
    how: { peers?: readonly string[]; join?: readonly string[]; learner?: boolean },
  ): NodeProcess {
    if (slot.node !== null) this.#retired.push(slot.node);
    slot.lives++;
    const net = this.o.network;
    const node = new NodeProcess({
      index: slot.index,
      raft: slot.raft,
      http: slot.http,
      url: slot.url,
      peers: how.peers ?? [],
      dir: this.o.dir,
      dataName: slot.lives === 1 ? `node${slot.index + 1}` : `node${slot.index + 1}-${slot.lives}`,
      extra: [...this.o.nodeArgs, ...(how.learner === true ? ['--learner'] : [])],
      env: this.o.env,
      onStart: noteNode,
      ...(how.join === undefined ? {} : { join: how.join }),
      ...(net === null ? {} : { prefix: net.prefix(slot.index) }),
      ...(this.o.bin === undefined ? {} : { bin: this.o.bin }),
    });
    slot.node = node;
    return node;
  }

  /** Statuses of the member slots (null for one that does not answer). */
  async statuses(ms = 500): Promise<(StatusSnapshot | null)[]> {
    return Promise.all(this.members.map((s) => statusOf(s.url, ms)));
  }

  /** The slot whose node says it leads, if one answers so. */
  async leader(): Promise<Slot | null> {
    const members = this.members;
    const statuses = await Promise.all(members.map((s) => statusOf(s.url)));
    const i = statuses.findIndex((s) => s?.role === 'leader');
    return i < 0 ? null : (members[i] as Slot);
  }

  /** Waits until every member answers and names the same leader; its id, or null at `ms`. */
  async agreedLeader(ms: number): Promise<string | null> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      const statuses = await this.statuses();
      const leaders = new Set(statuses.map((s) => s?.leader ?? null));
      const [leader] = leaders;
      if (leaders.size === 1 && leader != null) return leader;
      await sleep(100);
    }
    return null;
  }

  /** Waits until every member has applied `index`; false at `ms`. */
  async applied(index: number, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      const statuses = await this.statuses();
      if (statuses.every((s) => s !== null && s.appliedIndex >= index)) return true;
      await sleep(100);
    }
    return false;
  }

  /** Empties `slot` (its node was removed from the cluster and has stopped). */
  vacate(slot: Slot): void {
    if (slot.node !== null) this.#retired.push(slot.node);
    slot.node = null;
  }

  /**
   * Makes the slots agree with the configuration in force (asked of the members until one
   * answers, within `ms`): a node outside it is killed and its slot emptied. Returns the ids
   * stopped, or null if no member answered.
   */
  async reconcile(ms: number): Promise<string[] | null> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      // The newest configuration any member knows (a lagging or removed one knows an older).
      const lists = await Promise.all(this.members.map((s) => membersOf(s.url)));
      const list = lists.reduce<MemberIds | null>(
        (best, l) => (l !== null && (best === null || l.index > best.index) ? l : best),
        null,
      );
      if (list !== null) {
        const ids = new Set([...list.voters, ...list.learners].map((m) => m.id));
        const outside = this.members.filter((m) => !ids.has(m.raft));
        for (const m of outside) {
          await m.node?.kill();
          this.vacate(m);
        }
        return outside.map((m) => m.raft);
      }
      await sleep(200);
    }
    return null;
  }

  /** The slot of the node with Raft address `id`. */
  slotOf(id: string): Slot | undefined {
    return this.slots.find((s) => s.raft === id);
  }

  async killAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.node?.kill()));
  }

  /** Ends every node's log file (the nodes stopped). */
  async close(): Promise<void> {
    await Promise.all([...this.#retired, ...this.slots.map((s) => s.node)].map((n) => n?.close()));
  }

  /** Snapshots written and installed over the run, from the nodes' log files. */
  snapshotsLogged(): { taken: number; installed: number } {
    let taken = 0;
    let installed = 0;
    for (const s of this.slots) {
      const file = join(this.o.dir, `node${s.index + 1}.out`);
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      taken += (text.match(/snapshot at \d+ written/g) ?? []).length;
      installed += (text.match(/installed the leader's snapshot/g) ?? []).length;
    }
    return { taken, installed };
  }
}
