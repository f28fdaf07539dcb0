/**
 * The closed-loop load generator both sides of the etcd comparison share: `concurrency`
 * workers, each sending one request and awaiting its answer before the next, for a fixed time
 * and at most a fixed count. Latency is timed from the call to its answer.
 */
export interface LoadResult {
  readonly ops: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError?: string;
}

/** Stops a worker after this many calls even if time remains (a bound on every loop). */
const MAX_CALLS_PER_WORKER = 5_000_000;

export async function closedLoop(
  concurrency: number,
  seconds: number,
  call: (worker: number, n: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = 0; n < MAX_CALLS_PER_WORKER; n++) {
        const t = performance.now();
        if (t >= end) break;
        try {
          await call(worker, n);
          latencies.push(performance.now() - t);
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
          // A failing server must not turn the loop into a busy spin.
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    ops: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

/** The median of some numbers (the middle one, or the mean of the two middle ones). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** `min–max` of some figures, rounded: how far the rounds of one measurement spread. */
export function spread(values: readonly number[]): string {
  return `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`;
}
