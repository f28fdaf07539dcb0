/**
 * @module
 * The simulator on every core: `raftkit sim --jobs N` forks N copies of this program, each
 * running one seed at a time as it is handed them, and merges their results in the parent
 * (which prints, counts, and shrinks a failure as a single process would). A run is
 * deterministic by its options, so where it ran changes nothing about it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SimResult, type SimulationOptions, simulate } from '../sim/index.js';

/** The worker's program: this directory's `sim-worker.ts` (from source) or `.js` (built). */
const WORKER_ENTRY = fileURLToPath(
  new URL(`./sim-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/**
 * Flags for the workers' V8: a larger young generation, since a run allocates many small
 * short-lived objects (measured: 15-20 % less time per run, most of it in scavenges).
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=64'];

interface Ask {
  readonly id: number;
  readonly options: SimulationOptions;
}
interface Answer {
  readonly id: number;
  readonly result?: SimResult;
  readonly error?: string;
  readonly wallMs: number;
}

/** In a worker: serve runs until the parent disconnects. */
export function serveRuns(): void {
  process.on('message', (ask: Ask) => {
    const t0 = performance.now();
    simulate(ask.options).then(
      (result) =>
        process.send?.({ id: ask.id, result, wallMs: performance.now() - t0 } satisfies Answer),
      (e: unknown) =>
        process.send?.({
          id: ask.id,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
          wallMs: performance.now() - t0,
        } satisfies Answer),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

export interface Run {
  readonly result: SimResult;
  readonly wallMs: number;
}

/** A pool of worker processes, each running one simulation at a time. */
export class SimPool {
  readonly #idle: ChildProcess[] = [];
  readonly #all: ChildProcess[] = [];
  readonly #waiting: (() => void)[] = [];
  readonly #pending = new Map<number, { resolve: (r: Run) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const child = fork(WORKER_ENTRY, [], {
        execArgv: [...process.execArgv, ...WORKER_V8_FLAGS],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (a: Answer) => {
        const p = this.#pending.get(a.id);
        this.#pending.delete(a.id);
        this.#idle.push(child);
        this.#waiting.shift()?.();
        if (p === undefined) return;
        if (a.result !== undefined) p.resolve({ result: a.result, wallMs: a.wallMs });
        else p.reject(new Error(`a simulator worker failed: ${a.error}`));
      });
      child.once('exit', (code) => {
        for (const [id, p] of this.#pending) {
          p.reject(new Error(`a simulator worker exited (code ${String(code)}) during run ${id}`));
        }
      });
      this.#all.push(child);
      this.#idle.push(child);
    }
  }

  /** Runs `options` on a free worker (waits for one). */
  async run(options: SimulationOptions): Promise<Run> {
    let child = this.#idle.pop();
    while (child === undefined) {
      await new Promise<void>((r) => this.#waiting.push(r));
      child = this.#idle.pop();
    }
    const id = this.#next++;
    return new Promise<Run>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send({ id, options } satisfies Ask);
    });
  }

  close(): void {
    for (const c of this.#all) c.disconnect();
  }
}
