/**
 * @module
 * The HTTP API (the README's table), served by every node. Writes and linearizable reads go through
 * the node, which forwards a follower's proposals to the leader and serves its reads by
 * ReadIndex, so any node answers any request. Status codes say what a client may do next:
 *
 *   400 / 404 / 405 / 413  the request is wrong; do not retry it as is
 *   401 / 403  no valid token, or one whose role does not allow the route (nothing was done)
 *   409  the client's session expired (see `sessions.ts`)
 *   503  no leader (nothing was proposed), the write was certainly not applied, or the node
 *        is at its bound of connections or requests in flight: retry after `Retry-After`
 *   504  the write's outcome is unknown: retry with the same session and sequence number
 *   500  a bug; logged
 */

import { constants } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  MembershipChangeError,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  RaftError,
  TransferRejectedError,
} from '../core/index.js';
import {
  type ChangeResult,
  formatAddress,
  type MemberList,
  NodeSnapshotError,
  NodeStoppedError,
  parseAddress,
  type RaftNode,
  type SkewedClock,
  TimeoutError,
} from '../node/index.js';
import { API_HEADER, API_VERSION } from './api.js';
import { type Authenticator, roleAllows } from './auth.js';
import { encodeKvCommand, type KvCommand, type KvResult } from './commands.js';
import { BadRequestError } from './errors.js';
import type { KvStore } from './kv-store.js';
import type { KvMetrics, RequestOp } from './metrics.js';
import {
  addMemberBody,
  casBody,
  clockBody,
  type DashboardRoute,
  defaultKvLimits,
  type KvLimits,
  MethodNotAllowedError,
  parseBody,
  parseRoute,
  parseSession,
  putBody,
  type Route,
  roleOfRoute,
  transferBody,
} from './requests.js';

/** HTTPS for the API: PEM texts. With `ca`, a client must show a certificate that it signed. */
export interface HttpTlsOptions {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/** Bounds that keep one client (or many) from taking the node's API away from the others. */
export interface ConnectionLimits {
  /** Open connections; those beyond are answered 503 and closed. Default 1,024. */
  readonly maxConnections: number;
  /** Requests being served at once (health probes aside); beyond, 503. Default 512. */
  readonly maxInFlight: number;
  /** A request's headers must arrive within this, or it is answered 408 and cut. Default 10 s. */
  readonly headersTimeoutMs: number;
  /** ... and the whole request, its body included, within this. Default 60 s. */
  readonly bodyTimeoutMs: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxConnections: 1024,
  maxInFlight: 512,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 60_000,
};

export interface KvServerLogger {
  error(fields: object, message: string): void;
  debug?(fields: object, message: string): void;
}

export interface KvServerOptions {
  readonly node: RaftNode<KvStore>;
  /** `host:port`; port 0 picks a free one (see `address`). */
  readonly listen: string;
  readonly limits?: Partial<KvLimits>;
  /** How long a write or linearizable read may take before 504. Default 5 000 ms. */
  readonly requestTimeoutMs?: number;
  /** How long to wait for a leader before 503. Default 2 000 ms. */
  readonly leaderWaitMs?: number;
  /**
   * How long a membership change may take before 504: adding a voter waits for it to catch
   * up, a snapshot transfer included. Default 60 000 ms.
   */
  readonly memberTimeoutMs?: number;
  readonly metrics?: KvMetrics;
  readonly logger?: KvServerLogger;
  /**
   * The node's clock, when it is a test clock (`RAFTKIT_TEST_HOOKS=clock`): `GET` and `POST
   * /v1/test/clock` read and change it. Without it that route is 404.
   */
  readonly testClock?: SkewedClock;
  /** Serve HTTPS instead of HTTP. */
  readonly tls?: HttpTlsOptions;
  /** Bearer tokens and their roles (see `auth.ts`); without, every request is served. */
  readonly auth?: Authenticator;
  /**
   * `/metrics`, `/healthz` and `/readyz` need neither a token nor a client certificate (for
   * scrapers and probes, which have neither).
   */
  readonly openProbes?: boolean;
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /** `/readyz` fails while the applied index trails the commit index by more. Default 1,000. */
  readonly readyMaxLag?: number;
  /** Serves `/ui` and `/v1/cluster...` (the `ui` layer's); without, those routes are 404. */
  readonly dashboard?: DashboardRoutes;
}

/** What a dashboard route is served with. */
export interface DashboardRequest {
  /** The request's `Authorization` header: a node asking its peers on a viewer's behalf sends it on. */
  readonly authorization: string | undefined;
  /** Other request headers the route may need (the supervisor's secret). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Aborts when the client goes away (an event stream ends with it). */
  readonly signal: AbortSignal;
  /** The body, read within the node's limits. */
  body(): Promise<string>;
}

export interface DashboardAnswer {
  readonly status: number;
  /** JSON, or a string sent as is (with its `content-type` header). */
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** An endless body (an event stream), ended when the client goes away. */
  readonly stream?: AsyncIterable<Uint8Array>;
}

/** The dashboard's side of the server (implemented in `ui/`, which may import this layer). */
export interface DashboardRoutes {
  serve(route: DashboardRoute, request: DashboardRequest): Promise<DashboardAnswer>;
  /**
   * Whether a page served from `origin` (another member's, after the one it came from went
   * down) may call this node: the answers then carry CORS headers, and preflights are answered.
   */
  allowsOrigin(origin: string): boolean;
}

/** What a page from another member may send (its token, JSON, the session headers). */
const CORS_HEADERS = 'authorization, content-type, raftkit-client, raftkit-seq, raftkit-ack';

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes streamed as the body instead of `body` (a backup), with no length known ahead. */
  readonly stream?: AsyncIterable<Uint8Array>;
  /** A write's: when it was proposed and when its proposal settled (for the stage metrics). */
  readonly proposedAt?: number;
  readonly settledAt?: number;
}

/** Thrown inside a handler to answer with `status` (after it was logged or counted). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const RETRY = { 'retry-after': '1' };

/** Re-exported where they always were (see `api.ts`). */
export { API_HEADER, API_VERSION };

/** The client went away before its request was read whole: nothing to answer, nothing done. */
class ClientAbortedError extends Error {}

/** The `code` of a refused request, by status. */
const codeOfStatus: Readonly<Record<number, string>> = {
  400: 'bad-request',
  404: 'no-such-route',
  405: 'method-not-allowed',
  413: 'too-large',
};

export class KvHttpServer {
  readonly #options: KvServerOptions;
  readonly #node: RaftNode<KvStore>;
  readonly #limits: KvLimits;
  readonly #timeoutMs: number;
  readonly #leaderWaitMs: number;
  readonly #memberTimeoutMs: number;
  readonly #connectionLimits: ConnectionLimits;
  readonly #server: http.Server;
  #connections = 0;
  /** Connections opened beyond the bound: their requests are answered 503, then they close. */
  readonly #excess = new WeakSet<Socket>();
  #inFlight = 0;

  private constructor(options: KvServerOptions) {
    this.#options = options;
    this.#node = options.node;
    this.#limits = { ...defaultKvLimits, ...options.limits };
    this.#timeoutMs = options.requestTimeoutMs ?? 5000;
    this.#leaderWaitMs = options.leaderWaitMs ?? 2000;
    this.#memberTimeoutMs = options.memberTimeoutMs ?? 60_000;
    const limits = { ...defaultConnectionLimits, ...options.connectionLimits };
    checkConnectionLimits(limits);
    this.#connectionLimits = limits;
    const serverOptions: http.ServerOptions = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.bodyTimeoutMs,
      // Node checks both timeouts every this often (30 s by default): a slow client would
      // keep its connection for up to that much past its deadline.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.headersTimeoutMs / 4)),
      // Clients keep connections open between requests; Node's 5 s default drops idle ones.
      keepAliveTimeout: 30_000,
    };
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void this.#serve(req, res);
    };
    const tls = options.tls;
    this.#server =
      tls === undefined
        ? http.createServer(serverOptions, handler)
        : https.createServer(
            {
              ...serverOptions,
              cert: tls.cert,
              key: tls.key,
              // A certificate is asked for and checked here, and one that fails is answered
              // (401, why) rather than cut at the handshake: a client is told what is wrong.
              // No session resumption: Node takes a resumed session for an authorized one
              // whatever the first handshake found (see `#checkClientCertificate`).
              ...(tls.ca === undefined
                ? {}
                : {
                    ca: tls.ca,
                    requestCert: true,
                    rejectUnauthorized: false,
                    secureOptions: constants.SSL_OP_NO_TICKET,
                  }),
            },
            handler,
          );
    // Sockets are counted once they can carry a request (after the handshake, with TLS). Raw
    // connections get a hard bound above the soft one, where the kernel's backlog takes over.
    this.#server.maxConnections = limits.maxConnections * 2 + 64;
    this.#server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.#connections++;
      socket.once('close', () => this.#connections--);
      if (this.#connections > limits.maxConnections) {
        this.#excess.add(socket);
        // One that sends nothing is not kept waiting for the headers timeout.
        setTimeout(() => socket.destroy(), 2000).unref();
      }
    });
    if (tls !== undefined) {
      this.#server.on('tlsClientError', (error: Error) => {
        options.logger?.debug?.({ reason: error.message }, 'TLS handshake refused');
      });
    }
    // What Node's parser refuses (a malformed request line or header, headers too large)
    // gets the same JSON error shape as the rest, not an empty 400.
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const late = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = late ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const text = JSON.stringify(
        late
          ? {
              error: `the request did not arrive in time (headers within ${limits.headersTimeoutMs} ms, all of it within ${limits.bodyTimeoutMs} ms)`,
              code: 'request-timeout',
            }
          : {
              error: `malformed HTTP request (${error.code ?? 'parse error'})`,
              code: 'bad-request',
            },
      );
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n${API_HEADER}: ${API_VERSION}\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    });
  }

  static async start(options: KvServerOptions): Promise<KvHttpServer> {
    const { host, port } = parseAddress(options.listen);
    const server = new KvHttpServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(port, host, () => {
        server.#server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  /** Where the server listens, `host:port`. */
  get address(): string {
    const a = this.#server.address() as AddressInfo;
    return formatAddress({ host: a.address, port: a.port });
  }

  get url(): string {
    return `${this.#options.tls === undefined ? 'http' : 'https'}://${this.address}`;
  }

  /** Stops listening and closes every connection, idle or not. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    let op: Route['op'] | 'invalid' = 'invalid';
    let reply: Reply | null;
    let counted = false;
    try {
      if (this.#excess.has(req.socket as Socket)) {
        throw new HttpError(
          503,
          'too-many-connections',
          `this node serves at most ${this.#connectionLimits.maxConnections} connections; retry later`,
          { ...RETRY, connection: 'close' },
        );
      }
      if (req.method === 'OPTIONS' && this.#corsOrigin(req) !== null) {
        reply = { status: 204, body: '', headers: { 'access-control-max-age': '600' } };
        send(res, this.#withCors(req, reply));
        return;
      }
      const route = parseRoute(req.method ?? '', req.url ?? '/', this.#limits);
      op = route.op;
      // Open probes are open to scrapers and kubelets, which hold neither token nor certificate.
      const open = this.#options.openProbes === true && roleOfRoute[route.op] === 'probe';
      if (!open) this.#checkClientCertificate(req);
      // Probes are answered however busy the node is: a load balancer must not take a node
      // that is merely loaded for a dead one.
      if (op !== 'healthz' && op !== 'readyz') {
        if (this.#inFlight >= this.#connectionLimits.maxInFlight) {
          throw new HttpError(
            503,
            'overloaded',
            `this node serves at most ${this.#connectionLimits.maxInFlight} requests at once; retry later`,
            RETRY,
          );
        }
        this.#inFlight++;
        counted = true;
      }
      if (!open) await this.#authorize(route, req);
      reply = await this.#dispatch(route, req);
    } catch (e) {
      reply = this.#failure(e, op, req);
    }
    if (reply !== null && reply.stream === undefined && !req.complete) {
      // Refused before its body was read: the rest of it would be taken for the next request.
      reply = { ...reply, headers: { ...reply.headers, connection: 'close' } };
    }
    if (counted) this.#inFlight--;
    if (reply !== null) reply = this.#withCors(req, reply);
    if (isMeasured(op)) {
      const seconds = (performance.now() - started) / 1000;
      this.#options.metrics?.request(op, reply?.status ?? 'aborted', seconds);
    }
    if (reply?.stream !== undefined)
      await sendStream(res, reply, reply.stream, this.#options.logger);
    else if (reply !== null) send(res, reply);
    if (reply?.settledAt !== undefined && reply.proposedAt !== undefined) {
      const metrics = this.#options.metrics;
      metrics?.writeStage('parse', (reply.proposedAt - started) / 1000);
      metrics?.writeStage('answer', (performance.now() - reply.settledAt) / 1000);
    }
  }

  /** The request's `Origin` when it is one the dashboard lets call this node, else null. */
  #corsOrigin(req: http.IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (origin === undefined || this.#options.dashboard === undefined) return null;
    return this.#options.dashboard.allowsOrigin(origin) ? origin : null;
  }

  #withCors(req: http.IncomingMessage, reply: Reply): Reply {
    const origin = this.#corsOrigin(req);
    if (origin === null) return reply;
    return {
      ...reply,
      headers: {
        ...reply.headers,
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'GET, HEAD, PUT, POST, DELETE',
        'access-control-allow-headers': CORS_HEADERS,
        vary: 'origin',
      },
    };
  }

  /** With a client CA: a request on a connection without a certificate it signed is refused. */
  #checkClientCertificate(req: http.IncomingMessage): void {
    if (this.#options.tls?.ca === undefined) return;
    const socket = req.socket as TLSSocket;
    // A resumed session says `authorized` without a check (found by test/kv/https.test.ts: a
    // client with no certificate was served on its second connection). Tickets are off, so
    // none should resume; one that does is refused all the same.
    if (socket.authorized && !socket.isSessionReused()) return;
    const why =
      socket.authorizationError === null ? 'none sent' : String(socket.authorizationError);
    throw new HttpError(
      401,
      'client-certificate',
      `this node needs a client certificate signed by its CA (${why})`,
      { connection: 'close' },
    );
  }

  /** With auth on: throws 401 without a valid token, 403 with one whose role falls short. */
  async #authorize(route: Route, req: http.IncomingMessage): Promise<void> {
    const auth = this.#options.auth;
    const needed = roleOfRoute[route.op];
    if (auth === undefined || needed === 'public') return;
    const who = await auth.check(req.headers.authorization);
    if (who === 'missing') {
      throw new HttpError(
        401,
        'unauthenticated',
        'this node needs a token: send Authorization: Bearer TOKEN',
        { 'www-authenticate': 'Bearer realm="raftkit"' },
      );
    }
    if (who === 'invalid') {
      throw new HttpError(401, 'invalid-token', 'the token is not one this node knows', {
        'www-authenticate': 'Bearer realm="raftkit", error="invalid_token"',
      });
    }
    const role = needed === 'probe' ? 'read' : needed;
    if (!roleAllows(who.role, role)) {
      const path = (req.url ?? '/').split('?')[0];
      throw new HttpError(
        403,
        'forbidden',
        `the token ${who.name} has the ${who.role} role; ${req.method} ${path} needs ${role}`,
      );
    }
  }

  async #dispatch(route: Route, req: http.IncomingMessage): Promise<Reply> {
    switch (route.op) {
      case 'status':
        return { status: 200, body: this.#node.status() };
      case 'healthz':
        return { status: 200, body: { status: 'serving', id: this.#node.id } };
      case 'readyz':
        return this.#readiness();
      case 'snapshot': {
        const { meta, bytes } = await this.#node.backup({ timeoutMs: this.#timeoutMs });
        return {
          status: 200,
          body: null,
          stream: bytes,
          headers: {
            'content-type': 'application/octet-stream',
            'raftkit-snapshot-index': String(meta.index),
            'raftkit-snapshot-term': String(meta.term),
          },
        };
      }
      case 'metrics':
        return this.#metrics();
      case 'get':
        return this.#get(route.key, route.stale);
      case 'register': {
        const result = await this.#propose({ op: 'register' });
        return { status: 200, body: result };
      }
      case 'put': {
        const session = parseSession(req.headers);
        const { value } = parseBody(await this.#body(req), putBody, this.#limits);
        return this.#write({
          op: 'put',
          key: route.key,
          value,
          ...(session && { session }),
        });
      }
      case 'delete': {
        const session = parseSession(req.headers);
        return this.#write({
          op: 'del',
          key: route.key,
          ...(session && { session }),
        });
      }
      case 'cas': {
        const session = parseSession(req.headers);
        const { expected, value } = parseBody(await this.#body(req), casBody, this.#limits);
        return this.#write({
          op: 'cas',
          key: route.key,
          expected,
          value,
          ...(session && { session }),
        });
      }
      case 'members':
        return { status: 200, body: memberBody(this.#node.members()) };
      case 'add-member': {
        const { id, address, learner } = parseBody(
          await this.#body(req),
          addMemberBody,
          this.#limits,
        );
        return this.#memberChange((o) =>
          learner === true
            ? this.#node.addLearner(id, address, o)
            : this.#node.addVoter(id, address, o),
        );
      }
      case 'promote-member':
        return this.#memberChange((o) => this.#node.promote(route.id, o));
      case 'remove-member':
        return this.#memberChange((o) => this.#node.removeMember(route.id, o));
      case 'test-clock':
        return this.#testClock(req);
      case 'transfer-leader': {
        const { to } = parseBody(await this.#body(req), transferBody, this.#limits);
        await this.#leaderKnown();
        await this.#node.transferLeadership(to, { timeoutMs: this.#timeoutMs });
        return { status: 200, body: { leader: to, term: this.#node.term } };
      }
      case 'ui':
      case 'cluster':
      case 'cluster-events':
      case 'cluster-self':
      case 'cluster-control':
      case 'cluster-cut':
        return this.#dashboard(route, req);
    }
  }

  async #dashboard(route: DashboardRoute, req: http.IncomingMessage): Promise<Reply> {
    const dashboard = this.#options.dashboard;
    if (dashboard === undefined) {
      throw new BadRequestError('this node serves no dashboard', 404);
    }
    // Only an event stream holds its connection to the end; other answers leave the socket
    // to the next request of a kept-alive connection, so no listener stays on it.
    const gone = new AbortController();
    const socket = req.socket;
    if (route.op === 'cluster-events') {
      if (socket.destroyed) gone.abort();
      else socket.once('close', () => gone.abort());
    }
    return dashboard.serve(route, {
      authorization: req.headers.authorization,
      headers: req.headers,
      signal: gone.signal,
      body: () => this.#body(req),
    });
  }

  /**
   * Ready to take traffic: a member of the configuration in force (not removed, not still
   * joining), a leader known, and the state machine close behind the commit index.
   */
  #readiness(): Reply {
    const s = this.#node.status();
    const maxLag = this.#options.readyMaxLag ?? 1000;
    const problems: string[] = [];
    if (
      this.#node.removedAt !== null ||
      (!s.members.includes(s.id) && !s.learners.includes(s.id))
    ) {
      problems.push('not a member of the configuration in force');
    }
    if (s.leader === null) problems.push('no leader known');
    if (s.commitIndex - s.appliedIndex > maxLag) {
      problems.push(
        `applied ${s.appliedIndex} trails commit ${s.commitIndex} by more than ${maxLag}`,
      );
    }
    const ready = problems.length === 0;
    return {
      status: ready ? 200 : 503,
      body: {
        ready,
        id: s.id,
        leader: s.leader,
        commitIndex: s.commitIndex,
        appliedIndex: s.appliedIndex,
        problems,
      },
      ...(ready ? {} : { headers: RETRY }),
    };
  }

  /** A membership change: the node carries it out, or has its leader do it. */
  async #memberChange(
    change: (options: { timeoutMs: number }) => Promise<ChangeResult>,
  ): Promise<Reply> {
    await this.#leaderKnown();
    const result = await change({ timeoutMs: this.#memberTimeoutMs });
    return { status: 200, body: memberBody(result) };
  }

  async #testClock(req: http.IncomingMessage): Promise<Reply> {
    const clock = this.#options.testClock;
    if (clock === undefined) {
      throw new BadRequestError('no test clock: start the node with RAFTKIT_TEST_HOOKS=clock', 404);
    }
    if (req.method !== 'POST') return { status: 200, body: clock.skew };
    const { rate, jumpMs, wallJumpMs } = parseBody(await this.#body(req), clockBody, this.#limits);
    try {
      const change = {
        ...(rate === undefined ? {} : { rate }),
        ...(jumpMs === undefined ? {} : { jumpMs }),
        ...(wallJumpMs === undefined ? {} : { wallJumpMs }),
      };
      return { status: 200, body: clock.change(change) };
    } catch (e) {
      if (e instanceof RangeError) throw new BadRequestError(e.message);
      throw e;
    }
  }

  async #metrics(): Promise<Reply> {
    const metrics = this.#options.metrics;
    if (metrics === undefined) throw new BadRequestError('metrics are not enabled', 404);
    return {
      status: 200,
      body: await metrics.text(),
      headers: { 'content-type': metrics.contentType },
    };
  }

  async #get(key: string, stale: boolean): Promise<Reply> {
    const read = (store: KvStore) => store.get(key);
    let entry: ReturnType<typeof read>;
    if (stale) {
      entry = await this.#node.read(read, { stale: true });
    } else {
      await this.#leaderKnown();
      entry = await this.#node.read(read, { timeoutMs: this.#timeoutMs });
    }
    if (entry === undefined) {
      return { status: 404, body: { error: `key not found: ${key}`, code: 'not-found' } };
    }
    return { status: 200, body: { key, value: entry.value, index: entry.index } };
  }

  async #write(command: KvCommand): Promise<Reply> {
    const proposedAt = performance.now();
    const result = await this.#propose(command);
    const settledAt = performance.now();
    if ('rejected' in result) {
      const message =
        result.rejected === 'session-expired'
          ? 'client session expired or unknown: register a new one'
          : 'request number below the acknowledged one: it was not applied';
      return { status: 409, body: { error: message, code: result.rejected } };
    }
    return { status: 200, body: result, proposedAt, settledAt };
  }

  async #propose(command: KvCommand): Promise<KvResult> {
    await this.#leaderKnown();
    return (await this.#node.propose(encodeKvCommand(command), {
      timeoutMs: this.#timeoutMs,
    })) as KvResult;
  }

  /** Waits a little for a leader: during an election a client waits instead of retrying. */
  async #leaderKnown(): Promise<void> {
    if (this.#node.leader !== null) return;
    try {
      await this.#node.waitUntilLeader(undefined, { timeoutMs: this.#leaderWaitMs });
    } catch (e) {
      if (e instanceof TimeoutError) {
        throw new HttpError(503, 'no-leader', 'no leader is known; retry later', RETRY);
      }
      throw e;
    }
  }

  /** Reads the body, refusing (413) one over the limit without holding more of it. */
  #body(req: http.IncomingMessage): Promise<string> {
    const max = this.#limits.maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > max) return Promise.reject(tooLarge(declared, max));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) {
          req.removeAllListeners('data');
          req.pause();
          reject(tooLarge(size, max));
        } else {
          chunks.push(chunk);
        }
      });
      req.on('end', () => {
        try {
          resolve(strictUtf8.decode(Buffer.concat(chunks)));
        } catch {
          // Decoded loosely, bad bytes would be stored as replacement characters.
          reject(new BadRequestError('the body is not valid UTF-8'));
        }
      });
      // A client that goes away mid-body is no server failure (see `#failure`).
      req.on('aborted', () => reject(new ClientAbortedError('the client went away mid-body')));
      req.on('error', (e) => reject(new ClientAbortedError(e.message)));
    });
  }

  /** The answer to a request that failed, or null when its client is gone. */
  #failure(e: unknown, op: string, req: http.IncomingMessage): Reply | null {
    const error = e instanceof Error ? e : new Error(String(e));
    if (error instanceof ClientAbortedError) {
      this.#options.logger?.debug?.({ op, url: req.url, reason: error.message }, 'request aborted');
      return null;
    }
    const reply = (status: number, code: string, headers: Record<string, string> = {}) => ({
      status,
      body: { error: error.message, code },
      headers,
    });
    if (error instanceof HttpError) return reply(error.status, error.code, error.headers);
    if (error instanceof BadRequestError) {
      const headers: Record<string, string> = {};
      // A body left unread would be taken as the next request: close the connection instead.
      if (error.status === 413) headers.connection = 'close';
      if (error instanceof MethodNotAllowedError) headers.allow = error.allow.join(', ');
      return reply(error.status, codeOfStatus[error.status] ?? 'bad-request', headers);
    }
    if (error instanceof TimeoutError) return reply(504, 'timeout');
    if (error instanceof NotLeaderError || error instanceof NodeStoppedError) {
      return reply(503, 'unavailable', RETRY);
    }
    if (error instanceof OverloadedError) return reply(503, 'overloaded', RETRY);
    if (error instanceof MembershipChangeError) {
      // Nothing was changed. A change in progress, or a leader not ready, passes: retry.
      if (error.reason === 'change-in-progress' || error.reason === 'not-ready') {
        return reply(409, error.reason, RETRY);
      }
      return reply(error.reason === 'invalid' ? 400 : 409, error.reason);
    }
    if (error instanceof TransferRejectedError) return reply(409, 'transfer-rejected');
    if (error instanceof NodeSnapshotError) return reply(409, 'no-snapshot');
    if (error instanceof ProposalDroppedError) {
      if (error.reason === 'too-large') return reply(413, 'too-large', { connection: 'close' });
      return reply(503, error.reason, RETRY);
    }
    this.#options.logger?.error(
      { err: error, op, url: req.url, code: error instanceof RaftError ? error.code : undefined },
      'request failed',
    );
    return reply(500, 'internal');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A configuration as the API shows it (DESIGN.md: voters and learners, with addresses). */
function memberBody(list: MemberList): Record<string, unknown> {
  return {
    voters: list.voters,
    learners: list.learners,
    ...(list.outgoing.length > 0 ? { outgoing: list.outgoing } : {}),
    index: list.index,
  };
}

function tooLarge(size: number, max: number): BadRequestError {
  return new BadRequestError(`the body is ${size} bytes or more; the limit is ${max}`, 413);
}

const unmeasured = new Set([
  'metrics',
  'test-clock',
  'healthz',
  'readyz',
  'invalid',
  'ui',
  'cluster',
  'cluster-events',
  'cluster-self',
  'cluster-control',
  'cluster-cut',
]);

function isMeasured(op: string): op is RequestOp {
  return !unmeasured.has(op);
}

function checkConnectionLimits(limits: ConnectionLimits): void {
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new RangeError(`${name} must be a positive integer`);
  }
  if (limits.headersTimeoutMs > limits.bodyTimeoutMs) {
    throw new RangeError('the headers timeout cannot be longer than the whole request timeout');
  }
}

/**
 * Streams `stream` as the body, as fast as the client takes it. A failure midway cuts the
 * connection: the client sees a body without its end and refuses it (a backup checks its end).
 */
async function sendStream(
  res: http.ServerResponse,
  reply: Reply,
  stream: AsyncIterable<Uint8Array>,
  logger: KvServerLogger | undefined,
): Promise<void> {
  res.writeHead(reply.status, { [API_HEADER]: API_VERSION, ...reply.headers });
  // One listener for the whole stream, not one per chunk that waits for room.
  const closed = once(res, 'close');
  try {
    for await (const chunk of stream) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), closed]);
    }
    res.end();
  } catch (e) {
    logger?.error({ err: e }, 'streaming the answer failed');
    res.destroy();
  }
}

function send(res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const text =
    typeof reply.body === 'string' || reply.body instanceof Uint8Array
      ? reply.body
      : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    [API_HEADER]: API_VERSION,
    ...reply.headers,
  });
  // For HEAD, Node sends the headers (the length included) and leaves the body out.
  res.end(text);
}
