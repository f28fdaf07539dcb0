/**
 * @module
 * A node's recent activity, a second at a time, for the dashboard's charts: writes and reads
 * served, and latency histograms of requests and of fsyncs. Histograms (not percentiles) so
 * that the seconds of several nodes merge into the cluster's before percentiles are taken.
 * Prometheus histograms have the totals; this has the last minutes, fine-grained.
 *
 * Buckets are logarithmic, four to a doubling (a bucket's bound is within 19% of any value
 * in it), from 10 µs to about 3 minutes.
 */

/** Bucket `i` holds values up to `BASE_MS * 2^(i/4)`. */
const BASE_MS = 0.01;
export const ACTIVITY_BUCKETS = 96;
/** Seconds kept: the charts show the last five minutes. */
const KEEP_SECONDS = 300;

/** A sparse histogram: bucket index to count. */
export type Histogram = Record<number, number>;

export interface ActivitySecond {
  /** Start of the second, milliseconds since the epoch. */
  readonly t: number;
  readonly writes: number;
  readonly reads: number;
  readonly writeMs: Histogram;
  readonly readMs: Histogram;
  readonly fsyncMs: Histogram;
}

interface OpenSecond {
  t: number;
  writes: number;
  reads: number;
  writeMs: Histogram;
  readMs: Histogram;
  fsyncMs: Histogram;
}

export function bucketOf(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  return Math.min(ACTIVITY_BUCKETS - 1, Math.ceil(4 * Math.log2(ms / BASE_MS)));
}

/** The upper bound of bucket `i`, in milliseconds. */
export function bucketBoundMs(i: number): number {
  return BASE_MS * 2 ** (i / 4);
}

/** Adds `from` into `into`. */
export function mergeHistogram(into: Histogram, from: Histogram): void {
  for (const k in from)
    into[k as unknown as number] =
      (into[k as unknown as number] ?? 0) + (from[k as unknown as number] as number);
}

/** The `q` quantile (0..1) of a histogram, as its bucket's bound; null when it is empty. */
export function quantileMs(h: Histogram, q: number): number | null {
  const keys = Object.keys(h)
    .map(Number)
    .sort((a, b) => a - b);
  let total = 0;
  for (const k of keys) total += h[k] as number;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const k of keys) {
    seen += h[k] as number;
    if (seen >= rank) return bucketBoundMs(k);
  }
  return bucketBoundMs(keys.at(-1) as number);
}

export class RecentActivity {
  readonly #now: () => number;
  readonly #done: ActivitySecond[] = [];
  #open: OpenSecond;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#open = fresh(secondOf(now()));
  }

  write(ms: number): void {
    const s = this.#current();
    s.writes++;
    add(s.writeMs, ms);
  }

  read(ms: number): void {
    const s = this.#current();
    s.reads++;
    add(s.readMs, ms);
  }

  fsync(ms: number): void {
    add(this.#current().fsyncMs, ms);
  }

  /** The finished seconds that began after `since` (ms since the epoch), oldest first. */
  since(since: number): ActivitySecond[] {
    this.#current();
    const out: ActivitySecond[] = [];
    for (let i = this.#done.length - 1; i >= 0; i--) {
      const s = this.#done[i] as ActivitySecond;
      if (s.t <= since) break;
      out.push(s);
    }
    return out.reverse();
  }

  /** The open second, after closing those that ended (an idle second is kept, empty). */
  #current(): OpenSecond {
    const t = secondOf(this.#now());
    if (t === this.#open.t) return this.#open;
    // Idle seconds between are recorded too, so that a chart shows zero, not a gap; at most
    // as many as are kept.
    const first = Math.max(this.#open.t, t - KEEP_SECONDS * 1000);
    if (first === this.#open.t) this.#done.push(this.#open);
    for (let s = first + 1000; s < t; s += 1000) this.#done.push(fresh(s));
    if (this.#done.length > KEEP_SECONDS) this.#done.splice(0, this.#done.length - KEEP_SECONDS);
    this.#open = fresh(t);
    return this.#open;
  }
}

function secondOf(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function fresh(t: number): OpenSecond {
  return { t, writes: 0, reads: 0, writeMs: {}, readMs: {}, fsyncMs: {} };
}

function add(h: Histogram, ms: number): void {
  const b = bucketOf(ms);
  h[b] = (h[b] ?? 0) + 1;
}
