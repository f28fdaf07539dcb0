/**
 * @module
 * `RaftkitClient`: the key-value API from several endpoints. It finds the leader (any node
 * answers, but the leader answers without a hop), moves to another endpoint when one fails,
 * and retries on 503, 504, timeouts and lost connections until its deadline.
 *
 * Writes are exactly-once: the client registers a session with the cluster and numbers its
 * writes; a retry carries the same number, so however often a write is sent, it is applied
 * once and every copy gets its first result (see `sessions.ts`).
 */
import http from 'node:http';
import type { NodeStatus } from '../node/index.js';
import { TimeoutError } from '../node/index.js';
import { BadRequestError, ServerError, SessionExpiredError, UnavailableError } from './errors.js';

export interface RaftkitClientOptions {
  /** Nodes' HTTP addresses: `http://host:port` or `host:port`. */
  readonly endpoints: readonly string[];
  /** Deadline of each call, retries included. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Deadline of one HTTP attempt. Default 10 000 ms (the server gives up on a write at 5 s). */
  readonly attemptTimeoutMs?: number;
  /** Most connections kept per endpoint. Default 256. */
  readonly maxSockets?: number;
}

export interface GetResult {
  readonly key: string;
  readonly value: string;
  /** Log index of the write that set the value. */
  readonly index: number;
}

export interface CallOptions {
  /** Overrides the client's deadline for this call. */
  readonly timeoutMs?: number;
}

interface Response {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly retryAfterMs: number | null;
}

interface Attempt {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: () => Record<string, string>;
  /** Statuses the caller handles itself (beyond 200). */
  readonly accept?: readonly number[];
}

/** Connection-level failures: the request surely never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL']);

export class RaftkitClient {
  readonly endpoints: readonly URL[];
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #agent: http.Agent;
  /** The endpoint requests go to first: the leader, once found. */
  #preferred = 0;
  #discovery: Promise<void> | null = null;
  #leaderFound = false;
  #session: Promise<number> | null = null;
  /** The id of the current session, once registered. */
  #registered: number | null = null;
  #nextSeq = 1;
  readonly #outstanding = new Set<number>();

  constructor(options: RaftkitClientOptions) {
    if (options.endpoints.length === 0) throw new BadRequestError('no endpoints given');
    this.endpoints = options.endpoints.map(parseEndpoint);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  }

  /** The endpoint requests go to first: the leader's, once found. */
  get endpoint(): string {
    return (this.endpoints[this.#preferred] as URL).origin;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  async put(key: string, value: string, options: CallOptions = {}): Promise<{ index: number }> {
    const r = await this.#write({ method: 'PUT', path: kvPath(key), body: { value } }, options);
    return { index: r.index as number };
  }

  async delete(
    key: string,
    options: CallOptions = {},
  ): Promise<{ index: number; deleted: boolean }> {
    const r = await this.#write({ method: 'DELETE', path: kvPath(key) }, options);
    return { index: r.index as number, deleted: r.deleted as boolean };
  }

  /** Sets `key` to `value` (null: deletes it) if its value is `expected` (null: absent). */
  async cas(
    key: string,
    expected: string | null,
    value: string | null,
    options: CallOptions = {},
  ): Promise<{ succeeded: boolean; index: number }> {
    const path = `${kvPath(key)}/cas`;
    const r = await this.#write({ method: 'POST', path, body: { expected, value } }, options);
    return { succeeded: r.succeeded as boolean, index: r.index as number };
  }

  /** The value of `key`, or null when absent. Linearizable unless `stale`. */
  async get(
    key: string,
    options: CallOptions & { readonly stale?: boolean } = {},
  ): Promise<GetResult | null> {
    const path = `${kvPath(key)}${options.stale === true ? '?stale=true' : ''}`;
    const r = await this.#call({ method: 'GET', path, accept: [404] }, this.#deadline(options));
    if (r.status === 404 && r.body.code === 'not-found') return null;
    if (r.status === 404) throw new BadRequestError(String(r.body.error), 404);
    return {
      key: r.body.key as string,
      value: r.body.value as string,
      index: r.body.index as number,
    };
  }

  /** The status of the leader (or, with none, of the first node that answers). */
  async status(options: CallOptions = {}): Promise<NodeStatus> {
    const deadline = this.#deadline(options);
    await this.#discover(deadline);
    const r = await this.#call({ method: 'GET', path: '/v1/status' }, deadline);
    return r.body as unknown as NodeStatus;
  }

  #deadline(options: CallOptions): number {
    return performance.now() + (options.timeoutMs ?? this.#timeoutMs);
  }

  /** A numbered write: registered once, retried with its number, never applied twice. */
  async #write(attempt: Attempt, options: CallOptions): Promise<Record<string, unknown>> {
    const deadline = this.#deadline(options);
    for (;;) {
      const client = await this.#register(deadline);
      const seq = this.#nextSeq++;
      this.#outstanding.add(seq);
      try {
        let sent = 0;
        const headers = () => {
          sent++;
          return {
            'raftkit-client': String(client),
            'raftkit-seq': String(seq),
            'raftkit-ack': String(Math.min(...this.#outstanding)),
          };
        };
        const r = await this.#call({ ...attempt, headers, accept: [409] }, deadline);
        if (r.status !== 409) return r.body;
        if (r.body.code !== 'session-expired') {
          throw new ServerError(`unexpected refusal: ${String(r.body.error)}`, 409);
        }
        // The session is gone. A first attempt was certainly not applied: start a new session
        // and send it again. A retried one may have been applied before: say so.
        if (this.#registered === client) this.#session = null;
        if (sent > 1) throw new SessionExpiredError(client, true);
      } finally {
        this.#outstanding.delete(seq);
      }
    }
  }

  #register(deadline: number): Promise<number> {
    if (this.#session === null) {
      const session = this.#call({ method: 'POST', path: '/v1/sessions' }, deadline).then((r) => {
        this.#registered = r.body.client as number;
        return this.#registered;
      });
      // A failed registration is forgotten, so that the next write tries again.
      session.catch(() => {
        if (this.#session === session) this.#session = null;
      });
      this.#session = session;
    }
    return this.#session;
  }

  /** Sends `attempt` until it is answered or the deadline passes, moving between endpoints. */
  async #call(attempt: Attempt, deadline: number): Promise<Response> {
    if (!this.#leaderFound) await this.#discover(deadline);
    const started = performance.now();
    let last = 'nothing tried';
    // Whether some attempt may have been applied; a 503 says it was not, and neither was a
    // request whose connection was refused.
    let maybeApplied = false;
    for (let tries = 0; ; tries++) {
      const remaining = deadline - performance.now();
      // An attempt with next to no time left could only time out, hiding the real last error.
      if (remaining < 10 && tries > 0) break;
      const endpoint = this.endpoints[this.#preferred] as URL;
      let pause = Math.min(1000, 25 * 2 ** Math.min(tries, 6));
      try {
        const r = await this.#send(endpoint, attempt, Math.min(this.#attemptTimeoutMs, remaining));
        if (r.status === 200 || attempt.accept?.includes(r.status)) return r;
        const message = `${r.status} from ${endpoint.host}: ${String(r.body.error)}`;
        if (r.status === 503 || r.status === 504) {
          last = message;
          if (r.status === 504 || r.body.code === 'unavailable') maybeApplied = true;
          pause = Math.max(pause, Math.min(r.retryAfterMs ?? 0, 1000));
        } else if (r.status >= 500) {
          throw new ServerError(message, r.status);
        } else {
          throw new BadRequestError(String(r.body.error), r.status);
        }
      } catch (e) {
        if (e instanceof BadRequestError || e instanceof ServerError) throw e;
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (!NOT_SENT.has(code)) maybeApplied = true;
        last = `${endpoint.host}: ${(e as Error).message}`;
      }
      this.#next();
      await sleep(Math.min(pause, Math.max(0, deadline - performance.now())));
    }
    const ms = Math.round(performance.now() - started);
    if (attempt.headers !== undefined && maybeApplied) {
      throw new TimeoutError(
        `${attempt.method} ${attempt.path} (outcome unknown; last: ${last})`,
        ms,
      );
    }
    throw new UnavailableError(`${attempt.method} ${attempt.path}: no node answered in time`, last);
  }

  /** Moves to the next endpoint, and looks for the leader again before the next call. */
  #next(): void {
    this.#preferred = (this.#preferred + 1) % this.endpoints.length;
    this.#leaderFound = false;
  }

  /** Asks every endpoint for its status and prefers the one that is leader. */
  #discover(deadline: number): Promise<void> {
    // Half the time left at most, so that the call itself keeps time to be tried.
    const wait = Math.max(1, Math.min(1000, (deadline - performance.now()) / 2));
    this.#discovery ??= (async () => {
      const statuses = await Promise.all(
        this.endpoints.map((e) =>
          this.#send(e, { method: 'GET', path: '/v1/status' }, wait).catch(() => null),
        ),
      );
      const leader = statuses.findIndex((s) => s?.status === 200 && s.body.role === 'leader');
      if (leader >= 0) this.#preferred = leader;
      this.#leaderFound = leader >= 0;
    })().finally(() => {
      this.#discovery = null;
    });
    return this.#discovery;
  }

  #send(endpoint: URL, attempt: Attempt, timeoutMs: number): Promise<Response> {
    const body = attempt.body === undefined ? undefined : JSON.stringify(attempt.body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: endpoint.hostname.replace(/^\[|\]$/g, ''),
          port: endpoint.port,
          method: attempt.method,
          path: attempt.path,
          agent: this.#agent,
          headers: {
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
            ...attempt.headers?.(),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = { error: text.slice(0, 200) };
            }
            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              body: (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
                string,
                unknown
              >,
              retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : null,
            });
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs)} ms`)),
        timeoutMs,
      );
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(body);
    });
  }
}

function parseEndpoint(endpoint: string): URL {
  const text = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadRequestError(`endpoint ${JSON.stringify(endpoint)} is not host:port or a URL`);
  }
  if (url.protocol !== 'http:' || url.port === '' || url.pathname !== '/') {
    throw new BadRequestError(`endpoint ${JSON.stringify(endpoint)} must be http://host:port`);
  }
  return url;
}

function kvPath(key: string): string {
  if (typeof key !== 'string' || key === '') throw new BadRequestError('the key is empty');
  return `/v1/kv/${encodeURIComponent(key)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
