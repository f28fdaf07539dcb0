/**
 * @module
 * Carries out the fault schedule: each fault starts at its time and, when it lasts, ends on
 * its own. It counts the faults it injected by kind (a leader fault with no leader, or a
 * crash of a node already down, is skipped and not counted). The faults that wait for a moment
 * (crash-in-fsync, crash-in-vote, crash-in-snapshot, isolate-new-leader) count when armed.
 */
import type { StateMachine } from '../node/index.js';
import { Churn } from './churn.js';
import type { SimCluster } from './cluster.js';
import { type FaultKind, faultKinds, type ScheduledFault } from './faults.js';
import { type MessageFaults, noMessageFaults, type SimNetwork } from './network.js';
import type { Scheduler } from './scheduler.js';

export class Nemesis<S extends StateMachine> {
  readonly #scheduler: Scheduler;
  readonly #cluster: SimCluster<S>;
  readonly #network: SimNetwork;
  readonly #lossy = new Set<MessageFaults>();
  readonly #churn: Churn<S>;
  #healed = false;
  readonly injected = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;
  skipped = 0;

  constructor(scheduler: Scheduler, cluster: SimCluster<S>, network: SimNetwork) {
    this.#scheduler = scheduler;
    this.#cluster = cluster;
    this.#network = network;
    this.#churn = new Churn(cluster, scheduler);
  }

  /** Schedules every fault of `schedule`. */
  plan(schedule: readonly ScheduledFault[]): void {
    for (const fault of schedule) {
      this.#scheduler.at(fault.at, null, () => {
        if (this.#healed) return;
        if (this.#inject(fault)) this.injected[fault.kind]++;
        else this.skipped++;
      });
    }
  }

  /** Ends every fault: links restored, nodes resumed and restarted, disks fast. */
  heal(): void {
    this.#healed = true;
    this.#cluster.onNextLeader = null;
    this.#lossy.clear();
    this.#network.healAll();
    this.#cluster.heal();
  }

  #inject(f: ScheduledFault): boolean {
    const cluster = this.#cluster;
    switch (f.kind) {
      case 'crash':
        return f.nodes.map((i) => cluster.crash(i, f.downMs)).some(Boolean);
      case 'crash-in-fsync':
        return cluster.crashDuringSync(f.node, f.downMs);
      case 'crash-in-vote':
        return cluster.crashDuringVote(f.node, f.downMs);
      case 'crash-in-snapshot':
        return cluster.crashDuringSnapshot(f.node, f.step, f.downMs);
      case 'crash-leader': {
        const leader = cluster.leader();
        return leader !== null && cluster.crash(leader, f.downMs);
      }
      case 'restart':
        return cluster.restart(f.node, f.downMs);
      case 'pause':
        return cluster.pause(f.node, f.ms);
      case 'partition':
        this.#cutBetween(f.side, this.#others(f.side), f.ms, true);
        return true;
      case 'isolate-leader': {
        const leader = cluster.leader();
        if (leader === null) return false;
        this.#cutBetween([leader], this.#others([leader]), f.ms, true);
        return true;
      }
      case 'isolate-new-leader':
        this.#cluster.onNextLeader = (leader) => {
          if (!this.#healed) this.#cutBetween([leader], this.#others([leader]), f.ms, true);
        };
        return true;
      case 'one-way':
        this.#cutBetween(f.from, f.to, f.ms, false);
        return true;
      case 'lossy': {
        const faults: MessageFaults = {
          loss: f.loss,
          duplicate: f.duplicate,
          reorder: f.reorder,
          spike: f.spike,
        };
        this.#lossy.add(faults);
        this.#updateLossy();
        this.#scheduler.after(f.ms, null, () => {
          this.#lossy.delete(faults);
          this.#updateLossy();
        });
        return true;
      }
      case 'slow-disk':
        cluster.slowDisk(f.node, f.ms);
        return true;
      case 'drift':
        cluster.drift(f.node, f.rate);
        return true;
      case 'member':
        return this.#churn.start(f.op, f.node, f.other);
    }
  }

  #others(side: readonly number[]): number[] {
    return [...Array(this.#cluster.size).keys()].filter((i) => !side.includes(i));
  }

  #cutBetween(from: readonly number[], to: readonly number[], ms: number, both: boolean): void {
    const ids = this.#cluster.ids;
    const links: [string, string][] = [];
    for (const a of from) {
      for (const b of to) {
        links.push([ids[a] as string, ids[b] as string]);
        if (both) links.push([ids[b] as string, ids[a] as string]);
      }
    }
    for (const [a, b] of links) this.#network.cut(a, b);
    this.#scheduler.after(ms, null, () => {
      if (this.#healed) return;
      for (const [a, b] of links) this.#network.restore(a, b);
    });
  }

  /** Overlapping lossy periods: the worst of each probability applies. */
  #updateLossy(): void {
    let f: MessageFaults = noMessageFaults;
    for (const w of this.#lossy) {
      f = {
        loss: Math.max(f.loss, w.loss),
        duplicate: Math.max(f.duplicate, w.duplicate),
        reorder: Math.max(f.reorder, w.reorder),
        spike: Math.max(f.spike, w.spike),
      };
    }
    this.#network.faults = f;
  }
}
