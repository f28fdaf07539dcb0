/**
 * @module
 * Client sessions: what makes a retried write apply once (Ongaro's thesis, section 6.3).
 *
 * A client registers through the log and gets the registration's index as its id. Each write
 * then carries `{client, seq, ack}`. The table keeps, per client, the result of every request
 * numbered `ack` or above, so a retry (same `seq`) gets the first result back instead of being
 * applied again, even after a leader change; requests below `ack` are ones the client no
 * longer waits for, and are refused rather than applied late. Many requests of one client may
 * be in flight at once, in any order.
 *
 * Memory is bounded, and expiry is deterministic because it follows the log only: the time is
 * the log's, stamped by leaders (see `../node/command.ts`). A session idle for `ttlMs` of it, or the
 * least recently used one when there are more than `maxSessions`, is dropped; a later request
 * from it is refused as expired. An id that is not in the table was either expired or never
 * registered, and in both cases nothing is applied, so no write can ever apply twice.
 */
import type { KvResult, SessionRef, SessionRejection } from './commands.js';

export interface SessionOptions {
  /** Log-time milliseconds a session may stay idle. Default one hour. */
  readonly ttlMs?: number;
  /** Most sessions held; the least recently used goes first. Default 100 000. */
  readonly maxSessions?: number;
  /** Most unacknowledged results held per client; older ones are forgotten. Default 4096. */
  readonly maxPendingPerClient?: number;
}

export const DEFAULT_SESSION_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_MAX_SESSIONS = 100_000;
export const DEFAULT_MAX_PENDING_PER_CLIENT = 4096;

interface Session {
  /** Every request below this was acknowledged by the client, or forgotten. */
  acked: number;
  readonly results: Map<number, KvResult>;
  lastUsed: number;
}

export type SessionCheck =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly result: KvResult }
  | { readonly kind: 'rejected'; readonly reason: SessionRejection };

export interface SessionSnapshot {
  readonly clock: number;
  readonly sessions: readonly {
    readonly client: number;
    readonly acked: number;
    readonly lastUsed: number;
    readonly results: readonly (readonly [number, KvResult])[];
  }[];
}

/** Why `v` is not a session table's snapshot, or undefined when it is one. */
export function checkSessionSnapshot(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const s = v as Record<string, unknown>;
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!isCount(s.clock) || !Array.isArray(s.sessions)) return 'clock and sessions expected';
  for (const session of s.sessions as unknown[]) {
    const e = session as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return 'a session is not an object';
    if (!isCount(e.client) || !isCount(e.acked) || !isCount(e.lastUsed)) {
      return 'a session without client, acked or lastUsed';
    }
    if (!Array.isArray(e.results)) return `session ${String(e.client)}: results expected`;
    for (const r of e.results as unknown[]) {
      if (!Array.isArray(r) || r.length !== 2 || !isCount(r[0]) || typeof r[1] !== 'object') {
        return `session ${String(e.client)}: a result is not [seq, result]`;
      }
    }
  }
  return undefined;
}

export class SessionTable {
  readonly #ttlMs: number;
  readonly #maxSessions: number;
  readonly #maxPending: number;
  /** In order of last use, oldest first (a used session is moved to the end). */
  #sessions = new Map<number, Session>();
  /** The log's time, as of the last command applied. */
  #clock = 0;

  constructor(options: SessionOptions = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#maxPending = options.maxPendingPerClient ?? DEFAULT_MAX_PENDING_PER_CLIENT;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get clock(): number {
    return this.#clock;
  }

  /** Moves the log's time to `at` (never back) and drops the sessions idle past the TTL. */
  advance(at: number): void {
    if (at > this.#clock) this.#clock = at;
    for (const [client, session] of this.#sessions) {
      if (this.#clock - session.lastUsed <= this.#ttlMs) break;
      this.#sessions.delete(client);
    }
  }

  /** Opens a session whose id is `index`, the registration's log index. */
  register(index: number): number {
    this.#sessions.set(index, { acked: 1, results: new Map(), lastUsed: this.#clock });
    while (this.#sessions.size > this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value as number;
      this.#sessions.delete(oldest);
    }
    return index;
  }

  /** What to do with request `ref`: apply it, answer with its first result, or refuse it. */
  check(ref: SessionRef): SessionCheck {
    const session = this.#sessions.get(ref.client);
    if (session === undefined) return { kind: 'rejected', reason: 'session-expired' };
    this.#sessions.delete(ref.client);
    this.#sessions.set(ref.client, session);
    session.lastUsed = this.#clock;
    if (ref.ack > session.acked) {
      session.acked = ref.ack;
      for (const seq of session.results.keys()) {
        if (seq < ref.ack) session.results.delete(seq);
      }
    }
    const first = session.results.get(ref.seq);
    if (first !== undefined) return { kind: 'duplicate', result: first };
    if (ref.seq < session.acked) return { kind: 'rejected', reason: 'stale-request' };
    return { kind: 'new' };
  }

  /** Keeps the result of a request `check` called new, for its retries. */
  record(ref: SessionRef, result: KvResult): void {
    const session = this.#sessions.get(ref.client);
    if (session === undefined) return;
    session.results.set(ref.seq, result);
    if (session.results.size <= this.#maxPending) return;
    // Forget the oldest request: raising `acked` past it makes a late retry refused, not
    // applied a second time.
    const oldest = Math.min(...session.results.keys());
    session.results.delete(oldest);
    session.acked = Math.max(session.acked, oldest + 1);
  }

  snapshot(): SessionSnapshot {
    return {
      clock: this.#clock,
      sessions: [...this.#sessions].map(([client, s]) => ({
        client,
        acked: s.acked,
        lastUsed: s.lastUsed,
        results: [...s.results],
      })),
    };
  }

  restore(snapshot: SessionSnapshot): void {
    this.#clock = snapshot.clock;
    this.#sessions = new Map(
      snapshot.sessions.map((s) => [
        s.client,
        { acked: s.acked, lastUsed: s.lastUsed, results: new Map(s.results) },
      ]),
    );
  }
}
