/**
 * @module
 * The shrinker: given a failing run, finds a small subset of its fault schedule that still
 * fails the same way (delta debugging: drop halves, then quarters, and so on, keeping any
 * subset that still fails), after dropping the faults due after the failure, which never ran.
 * Every trial is a whole run from the same seed with fewer faults, so the result replays with
 * `--keep`.
 */
import type { StateMachine } from '../node/index.js';
import { type SimResult, type SimulationOptions, simulate } from './simulation.js';

export interface ShrinkOptions {
  /** Most trial runs; default 150. */
  readonly maxRuns?: number;
  /** Told of every trial. */
  readonly onTrial?: (trial: SimResult, kept: boolean) => void;
}

export interface Shrunk {
  /** The smallest failing run found. */
  readonly result: SimResult;
  readonly runs: number;
}

export async function shrink<S extends StateMachine>(
  options: SimulationOptions<S>,
  failed: SimResult,
  shrinkOptions: ShrinkOptions = {},
): Promise<Shrunk> {
  const maxRuns = shrinkOptions.maxRuns ?? 150;
  const kind = failed.failure?.kind;
  if (kind === undefined) throw new RangeError('only a failed run can be shrunk');
  let best = failed;
  let keep = [...failed.positions];
  let runs = 0;
  const fails = async (candidate: number[]): Promise<boolean> => {
    runs++;
    const r = await simulate({ ...options, keep: candidate });
    const kept = r.failure?.kind === kind;
    shrinkOptions.onTrial?.(r, kept);
    if (kept) best = r;
    return kept;
  };
  // No fault at all first: a failure without faults is the simplest of all.
  if (keep.length > 0 && (await fails([]))) return { result: best, runs };
  // Faults due after the failure never ran: without them the run is the same one.
  const atMs = failed.failure?.atMs ?? Number.POSITIVE_INFINITY;
  const ran = keep.filter((_, i) => (failed.schedule[i]?.at ?? 0) <= atMs);
  if (ran.length < keep.length && (await fails(ran))) keep = ran;
  let parts = 2;
  while (keep.length > 1 && runs < maxRuns) {
    const size = Math.ceil(keep.length / parts);
    let reduced = false;
    for (let start = 0; start < keep.length && runs < maxRuns; start += size) {
      const candidate = [...keep.slice(0, start), ...keep.slice(start + size)];
      if (await fails(candidate)) {
        keep = candidate;
        parts = Math.max(parts - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (parts >= keep.length) break;
      parts = Math.min(keep.length, parts * 2);
    }
  }
  return { result: best, runs };
}
