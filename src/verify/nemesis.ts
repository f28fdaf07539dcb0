/**
 * @module
 * The faults of a verify run, one at a time: each is begun, held for a while, and healed
 * before the next, at `faultIntervalMs` (± half). The kinds take turns, so that a run of a
 * few intervals has every kind asked for; the shape within a kind (which node, how many, for
 * how long) is drawn from the seeded generator.
 *
 * - kill: SIGKILL a node, the leader, a minority at once, or every node (a power cut), and
 *   restart them.
 * - pause: SIGSTOP a node or the leader, SIGCONT it.
 * - partition (network namespaces only): a node isolated, the leader isolated, a minority cut
 *   from a majority, or a bridge (two sides that only one node reaches).
 * - member: add a voter, add a learner, promote it, remove a voter (the churn keeps the
 *   voters at the size asked for, or one more).
 * - snapshot: a follower kept down until the leader's snapshot passes its log, then restarted:
 *   it must be sent the snapshot (nodes run with small `--snapshot-entries` throughout).
 * - clock: a node's clock made fast or slow, or its wall clock (or, with ReadIndex reads, its
 *   monotonic clock) made to jump, through the node's test hook.
 */
import { RaftkitClient } from '../kv/index.js';
import type { Slot, VerifyCluster } from './cluster.js';
import type { NamespaceNetwork } from './netns.js';
import { statusOf } from './node-process.js';
import { sleep } from './workload.js';

export const nemesisKinds = ['kill', 'pause', 'partition', 'member', 'snapshot', 'clock'] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

export interface FaultWindow {
  readonly kind: NemesisKind;
  /** What exactly, e.g. "kill leader 10.101.2.1:7000". */
  readonly detail: string;
  /** Milliseconds since the run began. */
  readonly start: number;
  end: number | null;
  /** Whether it happened as meant (a membership change may be refused, a fault may find no leader). */
  ok: boolean;
}

export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[];
  readonly faultIntervalMs: number;
  readonly random: () => number;
  readonly now: () => number;
  readonly network: NamespaceNetwork | null;
  /** Lease reads: clock faults stay within the drift bound the README states. */
  readonly leaseReads: boolean;
  readonly log: (line: string) => void;
}

export class Nemesis {
  readonly faults: FaultWindow[] = [];
  readonly #cluster: VerifyCluster;
  readonly #o: NemesisOptions;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  /** Turn counters, so that the shapes within a kind take turns too. */
  readonly #turns = new Map<string, number>();
  #memberStep = 0;
  readonly #admin: RaftkitClient;

  constructor(cluster: VerifyCluster, options: NemesisOptions) {
    this.#cluster = cluster;
    this.#o = options;
    this.#admin = new RaftkitClient({
      endpoints: cluster.urls,
      timeoutMs: 15_000,
      attemptTimeoutMs: 5000,
    });
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops after the fault under way has healed. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#admin.close();
  }

  count(kind: NemesisKind): number {
    return this.faults.filter((f) => f.kind === kind && f.ok).length;
  }

  #random(n: number): number {
    return Math.floor(this.#o.random() * n);
  }

  /** How long a fault is held: between `low` and `high` fault intervals. */
  #span(low: number, high: number): number {
    return this.#o.faultIntervalMs * (low + this.#o.random() * (high - low));
  }

  #turn(kind: string): number {
    const t = this.#turns.get(kind) ?? 0;
    this.#turns.set(kind, t + 1);
    return t;
  }

  /** Sleeps `ms`, in slices, cut short when the nemesis stops. */
  async #hold(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (this.#running && performance.now() < until) {
      await sleep(Math.min(100, until - performance.now()));
    }
  }

  async #run(): Promise<void> {
    const kinds = this.#o.kinds;
    for (let turn = 0; this.#running; turn++) {
      await this.#hold(this.#o.faultIntervalMs * (0.5 + this.#o.random()));
      if (!this.#running) break;
      const kind = kinds[turn % kinds.length] as NemesisKind;
      try {
        await this.#fault(kind);
      } catch (e) {
        this.#o.log(`nemesis: ${kind} failed: ${(e as Error).message}`);
        const open = this.faults.find((f) => f.end === null);
        if (open !== undefined) {
          open.end = this.#o.now();
          open.ok = false;
        }
      }
    }
  }

  #begin(kind: NemesisKind, detail: string): FaultWindow {
    const window: FaultWindow = { kind, detail, start: this.#o.now(), end: null, ok: true };
    this.faults.push(window);
    this.#o.log(`nemesis: ${detail}`);
    return window;
  }

  #end(window: FaultWindow, ok = true): void {
    window.end = this.#o.now();
    window.ok = ok;
  }

  /** Members now running (not paused), in slot order. */
  #live(): Slot[] {
    return this.#cluster.members.filter((s) => s.node?.running === true && !s.node.paused);
  }

  async #fault(kind: NemesisKind): Promise<void> {
    switch (kind) {
      case 'kill':
        return this.#kill();
      case 'pause':
        return this.#pause();
      case 'partition':
        return this.#partition();
      case 'member':
        return this.#member();
      case 'snapshot':
        return this.#snapshot();
      case 'clock':
        return this.#clock();
    }
  }

  async #kill(): Promise<void> {
    const shapes = ['one', 'leader', 'minority', 'all'] as const;
    const shape = shapes[this.#turn('kill') % shapes.length] as (typeof shapes)[number];
    const members = this.#cluster.members;
    let victims: Slot[];
    if (shape === 'leader') {
      const leader = await this.#cluster.leader();
      victims = leader === null ? [] : [leader];
    } else if (shape === 'all') {
      victims = members;
    } else {
      const count = shape === 'one' ? 1 : Math.max(1, Math.floor((members.length - 1) / 2));
      victims = shuffle(members, this.#o.random).slice(0, count);
    }
    if (victims.length === 0) return;
    const names = victims.map((s) => s.raft).join(', ');
    const label =
      shape === 'all' ? 'power cut: every node' : shape === 'minority' ? 'a minority' : shape;
    const w = this.#begin('kill', `kill ${label} (${names})`);
    await Promise.all(victims.map((s) => s.node?.kill()));
    await this.#hold(this.#span(0.2, 1));
    for (const s of victims) s.node?.start();
    this.#end(w);
  }

  async #pause(): Promise<void> {
    const leader = this.#turn('pause') % 2 === 1;
    const victim = leader ? await this.#cluster.leader() : pick(this.#live(), this.#o.random);
    if (victim?.node == null) return;
    const w = this.#begin('pause', `pause ${leader ? 'leader' : 'node'} ${victim.raft}`);
    victim.node.pause();
    await this.#hold(this.#span(0.3, 1.3));
    victim.node.resume();
    this.#end(w);
  }

  async #partition(): Promise<void> {
    const net = this.#o.network;
    if (net === null) return;
    const shapes = ['node', 'leader', 'majority', 'bridge'] as const;
    const shape = shapes[this.#turn('partition') % shapes.length] as (typeof shapes)[number];
    const members = this.#cluster.members.map((s) => s.index);
    const others = (side: readonly number[]) => members.filter((m) => !side.includes(m));
    const between = (a: readonly number[], b: readonly number[]) =>
      a.flatMap((x) => b.map((y) => [x, y] as const));
    let pairs: (readonly [number, number])[];
    let detail: string;
    if (shape === 'node' || shape === 'leader') {
      const slot =
        shape === 'leader'
          ? await this.#cluster.leader()
          : pick(this.#cluster.members, this.#o.random);
      if (slot === null || slot === undefined) return;
      pairs = between([slot.index], others([slot.index]));
      detail = `partition: ${shape === 'leader' ? 'the leader' : 'a node'} ${slot.raft} isolated`;
    } else if (shape === 'majority') {
      const minority = shuffle(members, this.#o.random).slice(
        0,
        Math.floor((members.length - 1) / 2),
      );
      pairs = between(minority, others(minority));
      detail = `partition: minority ${minority.map((i) => this.#name(i)).join(', ')} | the rest`;
    } else {
      // A bridge: two sides that cannot reach each other, and one node that reaches both.
      const order = shuffle(members, this.#o.random);
      const bridge = order[0] as number;
      const rest = order.slice(1);
      const left = rest.slice(0, Math.ceil(rest.length / 2));
      const right = rest.slice(left.length);
      pairs = between(left, right);
      detail = `partition: bridge ${this.#name(bridge)} between ${left.map((i) => this.#name(i)).join(', ')} | ${right.map((i) => this.#name(i)).join(', ')}`;
    }
    const w = this.#begin('partition', detail);
    await net.partition(pairs);
    await this.#hold(this.#span(0.7, 2));
    await net.heal();
    this.#end(w);
  }

  #name(i: number): string {
    return this.#cluster.slots[i]?.raft ?? String(i);
  }

  async #member(): Promise<void> {
    const cluster = this.#cluster;
    const list = await this.#admin.members({ timeoutMs: 5000 });
    const voters = list.voters.map((v) => v.id);
    const learners = list.learners.map((v) => v.id);
    const free = cluster.slots.find((s) => s.node === null);
    // The churn: add a voter, remove one; add a learner, promote it, remove one.
    const steps = ['add', 'remove', 'add-learner', 'promote', 'remove'] as const;
    let step = steps[this.#memberStep % steps.length] as (typeof steps)[number];
    if ((step === 'add' || step === 'add-learner') && free === undefined) step = 'remove';
    if (step === 'promote' && learners.length === 0) step = 'remove';
    if (step === 'remove' && voters.length <= cluster.o.nodes) {
      if (free === undefined) return;
      step = 'add';
    }
    this.#memberStep++;
    if (step === 'add' || step === 'add-learner') {
      const slot = free as Slot;
      const learner = step === 'add-learner';
      const w = this.#begin(
        'member',
        `member: ${slot.raft} joins${learner ? ' as a learner' : ''}`,
      );
      const node = cluster.join(slot, learner);
      const pattern = learner ? /joined as learner/ : /joined as voter/;
      const deadline = performance.now() + 30_000;
      while (!pattern.test(node.output) && performance.now() < deadline && node.running) {
        await sleep(100);
      }
      const ok = pattern.test(node.output);
      if (!ok) {
        this.#o.log(
          `nemesis: ${slot.raft} did not join (${node.running ? 'timed out' : 'it exited'})`,
        );
      }
      this.#end(w, ok);
      return;
    }
    if (step === 'promote') {
      const id = learners[0] as string;
      const w = this.#begin('member', `member: promote ${id}`);
      await this.#admin.promoteMember(id, { timeoutMs: 20_000 });
      this.#end(w);
      return;
    }
    const id = pick(voters, this.#o.random) as string;
    const w = this.#begin('member', `member: remove ${id}`);
    await this.#admin.removeMember(id, { timeoutMs: 20_000 });
    // A removed node stops by itself; its slot is free once it has.
    const slot = cluster.slotOf(id);
    if (slot?.node != null && !(await slot.node.exited(5000))) await slot.node.kill();
    if (slot !== undefined) this.#cluster.vacate(slot);
    this.#end(w);
  }

  async #snapshot(): Promise<void> {
    const leader = await this.#cluster.leader();
    if (leader === null) return;
    const follower = pick(
      this.#live().filter((s) => s !== leader),
      this.#o.random,
    );
    if (follower?.node == null) return;
    const before = await statusOf(follower.url);
    if (before === null) return;
    // The follower needs the snapshot once the leader's log starts past the follower's end.
    const w = this.#begin(
      'snapshot',
      `snapshot: ${follower.raft} kept down until the leader's snapshot passes its log`,
    );
    await follower.node.kill();
    const deadline = performance.now() + Math.max(5000, 5 * this.#o.faultIntervalMs);
    let passed = false;
    while (this.#running && performance.now() < deadline) {
      const now = await statusOf(leader.url);
      if ((now?.firstIndex ?? 0) > before.lastIndex + 1) {
        passed = true;
        break;
      }
      await sleep(200);
    }
    follower.node.start();
    this.#end(w, passed);
  }

  async #clock(): Promise<void> {
    const slot = pick(this.#live(), this.#o.random);
    if (slot === undefined) return;
    const shapes = this.#o.leaseReads
      ? (['rate', 'wall'] as const)
      : (['rate', 'wall', 'jump'] as const);
    const shape = shapes[this.#turn('clock') % shapes.length] as (typeof shapes)[number];
    let change: Record<string, number>;
    let detail: string;
    if (shape === 'rate') {
      // Within the lease reads' bound (README): no clock more than 25 % faster than another.
      const spread = this.#o.leaseReads ? 0.1 : 0.5;
      const rate = Math.round((1 - spread + this.#o.random() * 2 * spread) * 100) / 100;
      change = { rate };
      detail = `clock: ${slot.raft} runs at ${rate}× speed`;
    } else if (shape === 'wall') {
      const jump = Math.round((this.#o.random() < 0.5 ? -1 : 1) * (2000 + this.#o.random() * 8000));
      change = { wallJumpMs: jump };
      detail = `clock: ${slot.raft}'s wall clock jumps ${jump > 0 ? '+' : ''}${jump} ms`;
    } else {
      const jump = Math.round(500 + this.#o.random() * 2500);
      change = { jumpMs: jump };
      detail = `clock: ${slot.raft}'s clock jumps ${jump} ms ahead`;
    }
    const w = this.#begin('clock', detail);
    await setClock(slot.url, change);
    await this.#hold(this.#span(0.7, 1.5));
    if (shape === 'rate') await setClock(slot.url, { rate: 1 }).catch(() => undefined);
    this.#end(w);
  }
}

/** POST /v1/test/clock of the node at `url`. */
export async function setClock(url: string, change: Record<string, number>): Promise<void> {
  const r = await fetch(`${url}/v1/test/clock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(change),
    signal: AbortSignal.timeout(2000),
  });
  if (r.status !== 200) throw new Error(`the clock hook answered ${r.status}: ${await r.text()}`);
}

function pick<T>(list: readonly T[], random: () => number): T | undefined {
  return list[Math.floor(random() * list.length)];
}

function shuffle<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
