/**
 * @module
 * A node's simulated disk: the crash-modelling `MemoryFileSystem` with virtual latency. It
 * outlives the node's lives (a restart finds what the last one made durable). Writes take
 * tens of microseconds and an fdatasync about a millisecond; while the disk is slow, an
 * fdatasync takes 20 to 300 ms. Power can be cut in the middle of the next fsync, or of
 * the n-th fsync or directory change from now.
 */
import { MemoryFileSystem } from '../storage/index.js';
import type { SimRandom } from './random.js';
import type { Actor, Scheduler } from './scheduler.js';

export class SimDisk {
  readonly fs: MemoryFileSystem;
  /** The node life whose I/O completes; a crashed life's never does. */
  actor: Actor;
  /** Virtual time until which fsyncs are slow. */
  slowUntil = 0;
  /** Called (once) when the next fsync starts: power lost in the middle of it. */
  onSync: (() => void) | null = null;
  /**
   * Called (once) as the n-th fsync or directory change from now starts (`skip` pass first):
   * power lost between two steps of a sequence of them, such as writing a snapshot.
   */
  onStep: { skip: number; readonly crash: () => void } | null = null;
  readonly #scheduler: Scheduler;
  readonly #random: SimRandom;

  constructor(scheduler: Scheduler, random: SimRandom, actor: Actor) {
    this.#scheduler = scheduler;
    this.#random = random;
    this.actor = actor;
    this.fs = new MemoryFileSystem({
      latency: (op) => {
        const r = this.#random;
        let ms = op === 'write' ? 0.01 + r.float() * 0.04 : 0.5 + r.float() * 1.5;
        if (op !== 'write' && this.#scheduler.now < this.slowUntil) ms += 20 + r.float() * 280;
        const actorNow = this.actor;
        let crash = op === 'sync' ? this.onSync : null;
        if (crash !== null) this.onSync = null;
        else if (op !== 'write' && this.onStep !== null && this.onStep.skip-- <= 0) {
          crash = this.onStep.crash;
          this.onStep = null;
        }
        if (crash !== null) {
          // The crash ends this life: the fsync under way never completes.
          this.#scheduler.after(0, null, crash);
        }
        return new Promise<void>((resolve) => {
          this.#scheduler.after(ms, actorNow, resolve);
        });
      },
    });
  }
}
