/**
 * @module
 * `RaftkitClient`: the key-value API from several endpoints. It finds the leader (any node
 * answers, but the leader answers without a hop), moves to another endpoint when one fails,
 * and retries on 503, 504, timeouts and lost connections until its deadline.
 *
 * Writes are exactly-once: the client registers a session with the cluster and numbers its
 * writes; a retry carries the same number, so however often a write is sent, it is applied
 * once and every copy gets its first result (see `sessions.ts`).
 *
 * An answer counts only if it is a raftkit answer: JSON, with the `raftkit-api` header, of the
 * shape the call expects. Anything else (a web server at the wrong port, a proxy's error page)
 * is a failed endpoint, and the next one is tried. An endpoint that stops answering (a paused
 * or hung process) is found out within about a second by probing its status while a request
 * waits, so one silent endpoint cannot use up a call's deadline.
 */
import http from 'node:http';
import https from 'node:https';
// Imported file by file, not through the layers' indexes: a client (and `raftkit get`) loads
// no storage, transport, logger or metrics code.
import {
  MembershipChangeError,
  type MembershipRefusal,
  membershipRefusals,
} from '../core/errors.js';
import { TimeoutError } from '../node/errors.js';
import type { MemberInfo, NodeStatus } from '../node/index.js';
import { API_HEADER } from './api.js';
import {
  AuthRefusedError,
  BadRequestError,
  ServerError,
  SessionExpiredError,
  UnavailableError,
} from './errors.js';

export interface RaftkitClientOptions {
  /**
   * Nodes' HTTP addresses: `http://host:port`, `https://host:port` or `host:port` (HTTPS when
   * `tls` is given, else HTTP).
   */
  readonly endpoints: readonly string[];
  /** Sent as `Authorization: Bearer TOKEN` with every request. */
  readonly token?: string;
  /** For HTTPS endpoints: the CA to trust (PEM; default the system's), and a client certificate. */
  readonly tls?: ClientTlsOptions;
  /** Deadline of each call, retries included. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Deadline of one HTTP attempt. Default 10 000 ms (the server gives up on a write at 5 s). */
  readonly attemptTimeoutMs?: number;
  /**
   * While a request waits this long for its answer, the endpoint's status is probed (and again
   * as long after each answered probe). Default 300 ms.
   */
  readonly probeAfterMs?: number;
  /** An endpoint whose status probe is not answered within this is given up. Default 700 ms. */
  readonly probeTimeoutMs?: number;
  /** Most connections kept per endpoint. Default 256. */
  readonly maxSockets?: number;
}

export interface ClientTlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
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
  /** A streamed answer's body (a backup), unread. */
  readonly stream?: http.IncomingMessage;
}

interface Attempt {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: () => Record<string, string>;
  /** Statuses the caller handles itself (beyond 200). */
  readonly accept?: readonly number[];
  /** What a 200 answer's body must hold: anything else is not a raftkit answer. */
  readonly shape: (body: Record<string, unknown>) => boolean;
  /** A 200 answer is a stream of bytes, handed over unread (`Response.stream`). */
  readonly stream?: true;
}

/** Certificate failures, ours or the server's: a configuration error, not worth a retry. */
const TLS_REFUSED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function tlsRefusal(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  // ERR_SSL_*_ALERT_*: the server refused our certificate (or that we sent none).
  return TLS_REFUSED.has(code) || /^ERR_SSL_.*ALERT/.test(code);
}

/** Connection-level failures: the request surely never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL']);

/** Discovery waits this long for a leader to answer before it settles for a follower. */
const DISCOVERY_SETTLE_MS = 250;

/**
 * The endpoint answered, but not as a raftkit node does. Without the raftkit header it is some
 * other server, which applied nothing; with it, the answer was damaged on the way.
 */
class NotRaftkitError extends Error {
  constructor(
    message: string,
    readonly fromRaftkit: boolean,
  ) {
    super(message);
  }
}

/** The endpoint stopped answering while a request waited (its status probe went unanswered). */
class SilentEndpointError extends Error {}

const isIndex = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown): boolean => typeof v === 'string';

/** The 200 answers of each call, as the server sends them (the README's HTTP table). */
const shapes = {
  written: (b: Record<string, unknown>) => isIndex(b.index),
  deleted: (b: Record<string, unknown>) => isIndex(b.index) && typeof b.deleted === 'boolean',
  cas: (b: Record<string, unknown>) => isIndex(b.index) && typeof b.succeeded === 'boolean',
  got: (b: Record<string, unknown>) => isText(b.key) && isText(b.value) && isIndex(b.index),
  session: (b: Record<string, unknown>) => isIndex(b.client) && (b.client as number) > 0,
  status: (b: Record<string, unknown>) =>
    isText(b.id) && isText(b.role) && isIndex(b.term) && Array.isArray(b.members),
  members: (b: Record<string, unknown>) =>
    isMemberList(b.voters) && isMemberList(b.learners) && isIndex(b.index),
  transferred: (b: Record<string, unknown>) => isText(b.leader) && isIndex(b.term),
} as const;

function isMemberList(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.every((m) => typeof m === 'object' && m !== null && isText(m.id) && isText(m.address))
  );
}

/** The members as the API shows them: voters and learners with their Raft addresses. */
export interface Members {
  readonly voters: readonly MemberInfo[];
  readonly learners: readonly MemberInfo[];
  /** The old voters, while a joint configuration is in force. */
  readonly outgoing?: readonly MemberInfo[];
  /** The log index of the entry that carries this configuration. */
  readonly index: number;
}

export class RaftkitClient {
  readonly endpoints: readonly URL[];
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #probeAfterMs: number;
  readonly #probeTimeoutMs: number;
  /** The status probe under way per endpoint: null if it answered, else why not. */
  readonly #probes = new Map<URL, Promise<string | null>>();
  readonly #agent: http.Agent;
  readonly #tlsAgent: https.Agent;
  readonly #token: string | undefined;
  readonly #tls: ClientTlsOptions;
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
    const scheme = options.tls === undefined ? 'http' : 'https';
    this.endpoints = options.endpoints.map((e) => parseEndpoint(e, scheme));
    if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token)) {
      throw new BadRequestError('the token must be printable ASCII without spaces');
    }
    this.#token = options.token;
    this.#tls = options.tls ?? {};
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.#probeAfterMs = options.probeAfterMs ?? 300;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 700;
    const maxSockets = options.maxSockets ?? 256;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets });
    this.#tlsAgent = new https.Agent({ keepAlive: true, maxSockets, ...this.#tls });
  }

  /** The endpoint requests go to first: the leader's, once found. */
  get endpoint(): string {
    return (this.endpoints[this.#preferred] as URL).origin;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
    this.#tlsAgent.destroy();
  }

  async put(key: string, value: string, options: CallOptions = {}): Promise<{ index: number }> {
    const r = await this.#write(
      { method: 'PUT', path: kvPath(key), body: { value }, shape: shapes.written },
      options,
    );
    return { index: r.index as number };
  }

  async delete(
    key: string,
    options: CallOptions = {},
  ): Promise<{ index: number; deleted: boolean }> {
    const r = await this.#write(
      { method: 'DELETE', path: kvPath(key), shape: shapes.deleted },
      options,
    );
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
    const r = await this.#write(
      { method: 'POST', path, body: { expected, value }, shape: shapes.cas },
      options,
    );
    return { succeeded: r.succeeded as boolean, index: r.index as number };
  }

  /** The value of `key`, or null when absent. Linearizable unless `stale`. */
  async get(
    key: string,
    options: CallOptions & { readonly stale?: boolean } = {},
  ): Promise<GetResult | null> {
    const path = `${kvPath(key)}${options.stale === true ? '?stale=true' : ''}`;
    const r = await this.#call(
      { method: 'GET', path, accept: [404], shape: shapes.got },
      this.#deadline(options),
    );
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
    const r = await this.#call(
      { method: 'GET', path: '/v1/status', shape: shapes.status },
      deadline,
    );
    return r.body as unknown as NodeStatus;
  }

  /** The configuration in force, as the leader (or the first node to answer) knows it. */
  async members(options: CallOptions = {}): Promise<Members> {
    const deadline = this.#deadline(options);
    await this.#discover(deadline);
    const r = await this.#call(
      { method: 'GET', path: '/v1/members', shape: shapes.members },
      deadline,
    );
    return r.body as unknown as Members;
  }

  /**
   * Adds `id` listening at `address` (its Raft address): as a learner, or (by default) as a
   * voter once caught up. Resolves with the configuration once the change has applied.
   */
  addMember(
    id: string,
    address: string,
    options: CallOptions & { readonly learner?: boolean } = {},
  ): Promise<Members> {
    const body = { id, address, ...(options.learner === true ? { learner: true } : {}) };
    return this.#memberChange('POST', '/v1/members', body, options);
  }

  /** Makes the learner `id` a voter. */
  promoteMember(id: string, options: CallOptions = {}): Promise<Members> {
    return this.#memberChange('POST', `${memberPath(id)}/promote`, undefined, options);
  }

  /** Takes `id` out of the cluster. */
  removeMember(id: string, options: CallOptions = {}): Promise<Members> {
    return this.#memberChange('DELETE', memberPath(id), undefined, options);
  }

  /** Hands leadership to `to`; resolves once it leads. */
  async transferLeader(
    to: string,
    options: CallOptions = {},
  ): Promise<{ leader: string; term: number }> {
    const r = await this.#leaderCall(
      { method: 'POST', path: '/v1/leader', body: { to }, shape: shapes.transferred },
      options,
    );
    return { leader: r.body.leader as string, term: r.body.term as number };
  }

  /**
   * A backup: a snapshot of everything committed when the call was made, as the bytes of a
   * snapshot file, streamed from the leader (or, without one known, any node: each serves
   * one after a ReadIndex). The caller reads `body` to its end; a body cut short lacks the
   * file's end record, which the reader refuses.
   */
  async snapshot(
    options: CallOptions = {},
  ): Promise<{ index: number; term: number; endpoint: string; body: http.IncomingMessage }> {
    const deadline = this.#deadline(options);
    await this.#discover(deadline);
    const r = await this.#call(
      { method: 'GET', path: '/v1/snapshot', shape: () => true, stream: true },
      deadline,
    );
    const body = r.stream as http.IncomingMessage;
    return {
      index: Number(body.headers['raftkit-snapshot-index']),
      term: Number(body.headers['raftkit-snapshot-term']),
      endpoint: this.endpoint,
      body,
    };
  }

  async #memberChange(
    method: string,
    path: string,
    body: unknown,
    options: CallOptions,
  ): Promise<Members> {
    const attempt = {
      method,
      path,
      shape: shapes.members,
      ...(body === undefined ? {} : { body }),
    };
    const r = await this.#leaderCall(attempt, options);
    return r.body as unknown as Members;
  }

  /**
   * A call only the leader serves (a follower answers 503 `not-leader`, and the next endpoint
   * is tried). A refused change comes back as the core's `MembershipChangeError`.
   */
  async #leaderCall(attempt: Attempt, options: CallOptions): Promise<Response> {
    const r = await this.#call({ ...attempt, accept: [409] }, this.#deadline(options));
    if (r.status !== 409) return r;
    const code = String(r.body.code);
    const error = String(r.body.error);
    if (membershipRefusals.includes(code as MembershipRefusal)) {
      const detail = error.replace(/^membership change refused \([a-z-]+\): /, '');
      throw new MembershipChangeError(code as MembershipRefusal, detail);
    }
    throw new BadRequestError(error, 409);
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
      const register = { method: 'POST', path: '/v1/sessions', shape: shapes.session };
      const session = this.#call(register, deadline).then((r) => {
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
        const timeoutMs = Math.min(this.#attemptTimeoutMs, remaining);
        const r = await this.#watched(endpoint, attempt, timeoutMs, deadline);
        if (r.status === 200 || attempt.accept?.includes(r.status)) return r;
        const message = `${r.status} from ${endpoint.host}: ${String(r.body.error)}`;
        if (r.status === 503 || r.status === 504) {
          last = message;
          if (r.status === 504 || r.body.code === 'unavailable') maybeApplied = true;
          // An overloaded or leaderless node asks for time; elsewhere the next try is at once.
          if (r.body.code === 'overloaded' || r.body.code === 'no-leader') {
            pause = Math.max(pause, Math.min(r.retryAfterMs ?? 0, 1000));
          }
        } else if (r.status === 401 || r.status === 403) {
          throw new AuthRefusedError(message, r.status, String(r.body.code));
        } else if (r.status >= 500) {
          throw new ServerError(message, r.status);
        } else {
          throw new BadRequestError(String(r.body.error), r.status);
        }
      } catch (e) {
        if (e instanceof BadRequestError || e instanceof ServerError) throw e;
        if (e instanceof AuthRefusedError) throw e;
        if (tlsRefusal(e)) {
          throw new AuthRefusedError(
            `TLS with ${endpoint.host}: ${(e as Error).message}`,
            0,
            'tls',
          );
        }
        const code = (e as NodeJS.ErrnoException).code ?? '';
        // Another server than raftkit applied nothing; everything else may have reached one.
        const notApplied = NOT_SENT.has(code) || (e instanceof NotRaftkitError && !e.fromRaftkit);
        if (!notApplied) maybeApplied = true;
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

  /**
   * Asks every endpoint for its status and prefers the one that is leader. It does not wait
   * on a silent endpoint: the first leader to answer ends it, and after a short while an
   * endpoint that answered at all is preferred to one that has not.
   */
  #discover(deadline: number): Promise<void> {
    // Half the time left at most, so that the call itself keeps time to be tried.
    const wait = Math.max(1, Math.min(1000, (deadline - performance.now()) / 2));
    this.#discovery ??= new Promise<void>((resolve) => {
      const answered = new Set<number>();
      let pending = this.endpoints.length;
      let settled = false;
      const settle = (leader: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(settleTimer);
        clearTimeout(waitTimer);
        this.#leaderFound = leader >= 0;
        if (leader >= 0) this.#preferred = leader;
        else if (answered.size > 0 && !answered.has(this.#preferred)) {
          this.#preferred = Math.min(...answered);
        }
        resolve();
      };
      const settleTimer = setTimeout(
        () => {
          if (answered.size > 0) settle(-1);
        },
        Math.min(DISCOVERY_SETTLE_MS, wait),
      );
      const waitTimer = setTimeout(() => settle(-1), wait);
      this.endpoints.forEach((e, i) => {
        const status = { method: 'GET', path: '/v1/status', shape: shapes.status };
        this.#send(e, status, wait)
          .then((s) => {
            if (s.status !== 200) return;
            answered.add(i);
            if (s.body.role === 'leader') settle(i);
          })
          .catch(() => {})
          .finally(() => {
            if (--pending === 0) settle(-1);
          });
      });
    }).finally(() => {
      this.#discovery = null;
    });
    return this.#discovery;
  }

  /**
   * Sends `attempt` to `endpoint` and, while it waits, checks every `probeAfterMs` that the
   * endpoint still answers: a process that is paused or hung answers no probe, and the attempt
   * is given up (the request may have reached it: its outcome is unknown).
   */
  #watched(
    endpoint: URL,
    attempt: Attempt,
    timeoutMs: number,
    deadline: number,
  ): Promise<Response> {
    const abort = new AbortController();
    const request = this.#send(endpoint, attempt, timeoutMs, abort.signal);
    let timer: NodeJS.Timeout | undefined;
    const check = async (): Promise<void> => {
      const silent = await this.#silence(endpoint, deadline);
      if (abort.signal.aborted) return;
      if (silent !== null) abort.abort(new SilentEndpointError(silent));
      else timer = setTimeout(check, this.#probeAfterMs);
    };
    timer = setTimeout(check, this.#probeAfterMs);
    return request.finally(() => {
      clearTimeout(timer);
      abort.abort();
    });
  }

  /**
   * Null if `endpoint` answers a status request within `probeTimeoutMs`, else why not. Every
   * request waiting on one endpoint shares one probe, so a slow cluster is not flooded.
   */
  #silence(endpoint: URL, deadline: number): Promise<string | null> {
    let probe = this.#probes.get(endpoint);
    if (probe === undefined) {
      const probeMs = Math.max(1, Math.min(this.#probeTimeoutMs, deadline - performance.now()));
      const status = { method: 'GET', path: '/v1/status', shape: shapes.status };
      // On a new connection: a kept-alive one to a hung process proves nothing more.
      probe = this.#send(endpoint, status, probeMs, undefined, false)
        .then(() => null)
        .catch((e: Error) => `${endpoint.host} stopped answering (a status probe: ${e.message})`)
        .finally(() => this.#probes.delete(endpoint));
      this.#probes.set(endpoint, probe);
    }
    return probe;
  }

  /** One HTTP request; rejects unless the answer is a raftkit answer of the expected shape. */
  #send(
    endpoint: URL,
    attempt: Attempt,
    timeoutMs: number,
    signal?: AbortSignal,
    keepAlive = true,
  ): Promise<Response> {
    const body = attempt.body === undefined ? undefined : JSON.stringify(attempt.body);
    return new Promise((resolve, reject) => {
      const secure = endpoint.protocol === 'https:';
      const req = (secure ? https : http).request(
        {
          host: endpoint.hostname.replace(/^\[|\]$/g, ''),
          port: endpoint.port,
          method: attempt.method,
          path: attempt.path,
          agent: keepAlive ? (secure ? this.#tlsAgent : this.#agent) : false,
          ...(secure ? this.#tls : {}),
          headers: {
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
            ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
            ...attempt.headers?.(),
          },
        },
        (res) => {
          const streamed = attempt.stream === true && res.statusCode === 200;
          if (streamed && res.headers[API_HEADER] !== undefined) {
            // The caller reads it: neither the deadline nor a probe may cut it from here on.
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            resolve({ status: 200, body: {}, retryAfterMs: null, stream: res });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // A raftkit answer is small (a value is at most 1 MiB, escaped): bound what is held.
            size += c.length;
            if (size <= MAX_ANSWER_BYTES) chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            try {
              resolve(readAnswer(endpoint, attempt, res, Buffer.concat(chunks), size));
            } catch (e) {
              reject(e);
            }
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs)} ms`)),
        timeoutMs,
      );
      const onAbort = () =>
        req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.end(body);
    });
  }
}

/** Largest answer body read, in bytes. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The answer in `bytes`, if it is a raftkit answer; else a `NotRaftkitError` in one line. */
function readAnswer(
  endpoint: URL,
  attempt: Attempt,
  res: http.IncomingMessage,
  bytes: Buffer,
  size: number,
): Response {
  const status = res.statusCode ?? 0;
  const type = String(res.headers['content-type'] ?? 'no content type');
  const fromRaftkit = res.headers[API_HEADER] !== undefined;
  const refuse = (why: string): never => {
    const what = fromRaftkit ? 'a damaged raftkit answer' : 'not a raftkit node';
    throw new NotRaftkitError(
      `${endpoint.host} gave ${what}: ${status}, ${type}, ${why}`,
      fromRaftkit,
    );
  };
  if (!fromRaftkit) refuse(`no ${API_HEADER} header`);
  if (!type.startsWith('application/json')) refuse('not JSON');
  if (size > MAX_ANSWER_BYTES) refuse(`${size} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    refuse('its body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse('its body is not a JSON object');
  }
  const body = parsed as Record<string, unknown>;
  const ok = status === 200 ? attempt.shape(body) : isText(body.error) && isText(body.code);
  if (!ok) refuse(`a body without the fields of ${status === 200 ? attempt.path : 'an error'}`);
  const retryAfter = Number(res.headers['retry-after']);
  return {
    status,
    body,
    retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : null,
  };
}

function parseEndpoint(endpoint: string, scheme: 'http' | 'https'): URL {
  const text = /^https?:\/\//.test(endpoint) ? endpoint : `${scheme}://${endpoint}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadRequestError(`endpoint ${JSON.stringify(endpoint)} is not host:port or a URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.port === '' || url.pathname !== '/') {
    throw new BadRequestError(
      `endpoint ${JSON.stringify(endpoint)} must be http://host:port or https://host:port`,
    );
  }
  return url;
}

function memberPath(id: string): string {
  return `/v1/members/${encodeURIComponent(id)}`;
}

function kvPath(key: string): string {
  if (typeof key !== 'string' || key === '') throw new BadRequestError('the key is empty');
  return `/v1/kv/${encodeURIComponent(key)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
