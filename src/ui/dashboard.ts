/**
 * @module
 * The dashboard's routes on one node (`KvServerOptions.dashboard`): the page's files at
 * `/ui`, the cluster's view at `/v1/cluster` and as a stream of server-sent events at
 * `/v1/cluster/events`, this node's own part at `/v1/cluster/self`, and the local
 * cluster's controls. A node watches its peers only while someone looks (see
 * `ClusterWatcher`), one watcher per token, since the token is what the peers are asked with.
 */
import type {
  DashboardAnswer,
  DashboardRequest,
  DashboardRoute,
  DashboardRoutes,
  KvMetrics,
  KvStore,
  LocalAction,
} from '../kv/index.js';
import type { RaftNode } from '../node/index.js';
import { Assets } from './assets.js';
import { ClusterWatcher, type Cursor } from './cluster-watcher.js';
import {
  SUPERVISOR_HEADER,
  type SupervisorClient,
  type SupervisorLink,
  secretMatches,
} from './local-controls.js';
import { PeerClient, type PeerTls } from './peer-client.js';
import { NodeRecorder } from './recorder.js';
import { selfView } from './self-view.js';
import type { Controls } from './view-types.js';

export interface DashboardOptions {
  readonly node: RaftNode<KvStore>;
  readonly metrics: KvMetrics;
  /** This node's advertised API URL (null: it has none). */
  readonly url: () => string | null;
  /** `--ui-controls`: the page may offer writes, leader transfer and membership changes. */
  readonly controls: boolean;
  /** The local supervisor, under `raftkit cluster`: stop, pause, restart and cut. */
  readonly supervisor?: { readonly link: SupervisorLink; readonly client: SupervisorClient };
  /** Cuts this node off from its peers when `cut` is set (`CuttableTransport`), with a supervisor only. */
  readonly cuttable?: { cut: boolean };
  /** Client credentials for asking other members' HTTPS APIs. */
  readonly peerTls?: PeerTls;
}

/** A watcher nobody has looked at for this long is dropped. */
const IDLE_WATCHER_MS = 30_000;
/** A view older than this is refreshed before `GET /v1/cluster` answers. */
const FRESH_MS = 1000;
/** A comment line keeps an idle stream's connection from looking dead to proxies. */
const KEEPALIVE_MS = 15_000;

const encoder = new TextEncoder();

export class Dashboard implements DashboardRoutes {
  readonly recorder: NodeRecorder;
  readonly #options: DashboardOptions;
  readonly #assets = new Assets();
  readonly #watchers = new Map<string, { watcher: ClusterWatcher; used: number }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: DashboardOptions) {
    this.#options = options;
    this.recorder = new NodeRecorder(options.node);
    this.#sweep = setInterval(() => this.#dropIdle(), IDLE_WATCHER_MS);
    this.#sweep.unref();
    options.node.once('stopped', () => this.close());
  }

  get controls(): Controls {
    return {
      enabled: this.#options.controls,
      local: this.#options.controls && this.#options.supervisor !== undefined,
    };
  }

  /** Whether a page loaded from `origin` may call this node: it must be a member's own. */
  allowsOrigin(origin: string): boolean {
    for (const url of this.#options.node.stateMachine.urls.values()) {
      if (originOf(url) === origin) return true;
    }
    return false;
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const { watcher } of this.#watchers.values()) watcher.stop();
    this.#watchers.clear();
  }

  async serve(route: DashboardRoute, request: DashboardRequest): Promise<DashboardAnswer> {
    switch (route.op) {
      case 'ui':
        return this.#asset(route.asset);
      case 'cluster-self':
        return { status: 200, body: this.#self(route.query) };
      case 'cluster': {
        const watcher = this.#watcher(request.authorization);
        if (Date.now() - watcher.lastPoll > FRESH_MS) await watcher.poll();
        return { status: 200, body: watcher.view(ClusterWatcher.start()) };
      }
      case 'cluster-events':
        return {
          status: 200,
          body: null,
          headers: {
            'content-type': 'text/event-stream',
            'cache-control': 'no-store',
            'x-accel-buffering': 'no',
          },
          stream: this.#stream(request),
        };
      case 'cluster-control':
        return this.#control(route.id, route.action);
      case 'cluster-cut':
        return this.#cut(request);
    }
  }

  #self(query: { events: number; messages: number; activity: number }) {
    const o = this.#options;
    return selfView(
      {
        node: o.node,
        metrics: o.metrics,
        recorder: this.recorder,
        url: o.url(),
        controls: this.controls,
        cut: () => o.cuttable?.cut ?? false,
      },
      query,
    );
  }

  #asset(name: string): DashboardAnswer {
    const asset = this.#assets.get(name);
    if (asset === null) {
      const why = this.#assets.built
        ? `no such file: /ui/${name}`
        : 'the dashboard is not built: run npm run build';
      return { status: 404, body: { error: why, code: 'no-such-route' } };
    }
    return {
      status: 200,
      body: asset.body,
      headers: {
        'content-type': asset.contentType,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // The page talks to this node and, when it goes down, to the other members.
        'content-security-policy':
          "default-src 'self'; connect-src 'self' http: https:; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
      },
    };
  }

  #watcher(authorization: string | undefined): ClusterWatcher {
    const key = authorization ?? '';
    let entry = this.#watchers.get(key);
    if (entry === undefined) {
      const o = this.#options;
      const peers = new PeerClient(o.peerTls);
      const supervisor = o.supervisor;
      const watcher = new ClusterWatcher({
        id: o.node.id,
        self: (q) => this.#self(q),
        peers,
        authorization,
        controls: this.controls,
        ...(supervisor === undefined ? {} : { processes: () => supervisor.client.processes() }),
      });
      entry = { watcher, used: Date.now() };
      this.#watchers.set(key, entry);
    }
    entry.used = Date.now();
    return entry.watcher;
  }

  #dropIdle(): void {
    const now = Date.now();
    for (const [key, entry] of this.#watchers) {
      if (entry.watcher.watching === 0 && now - entry.used > IDLE_WATCHER_MS) {
        entry.watcher.stop();
        this.#watchers.delete(key);
      }
    }
  }

  /**
   * Server-sent events: `view` first (everything kept), then `update` after every round of
   * polls (what is new), until the client goes away.
   */
  async *#stream(request: DashboardRequest): AsyncGenerator<Uint8Array> {
    const watcher = this.#watcher(request.authorization);
    const cursor: Cursor = ClusterWatcher.start();
    let wake: (() => void) | null = null;
    let rounds = 0;
    const unlisten = watcher.listen(() => {
      rounds++;
      wake?.();
    });
    const onAbort = () => wake?.();
    request.signal.addEventListener('abort', onAbort);
    try {
      if (Date.now() - watcher.lastPoll > FRESH_MS) await watcher.poll();
      yield sse('view', watcher.view(cursor));
      let seen = rounds;
      let lastSent = Date.now();
      while (!request.signal.aborted) {
        if (rounds === seen) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, KEEPALIVE_MS).unref();
          });
          wake = null;
        }
        if (request.signal.aborted) break;
        if (rounds !== seen) {
          seen = rounds;
          lastSent = Date.now();
          yield sse('update', watcher.view(cursor));
        } else if (Date.now() - lastSent >= KEEPALIVE_MS) {
          lastSent = Date.now();
          yield encoder.encode(': keep-alive\n\n');
        }
      }
    } finally {
      request.signal.removeEventListener('abort', onAbort);
      unlisten();
    }
  }

  async #control(id: string, action: LocalAction): Promise<DashboardAnswer> {
    const supervisor = this.#options.supervisor;
    if (!this.#options.controls || supervisor === undefined) {
      return {
        status: 403,
        body: {
          error: this.#options.controls
            ? 'local controls exist only under a local raftkit cluster'
            : 'this node does not allow the dashboard controls (start it with --ui-controls)',
          code: 'controls-off',
        },
      };
    }
    try {
      const answer = await supervisor.client.act(id, action);
      if (answer.status === 200) {
        this.recorder.record(
          'control',
          `${action} ${id} (from the dashboard)`,
          `control:${id}:${action}:${Date.now()}`,
        );
      }
      return { status: answer.status, body: answer.body };
    } catch (e) {
      return {
        status: 502,
        body: {
          error: `the supervisor did not answer: ${(e as Error).message}`,
          code: 'supervisor',
        },
      };
    }
  }

  async #cut(request: DashboardRequest): Promise<DashboardAnswer> {
    const { supervisor, cuttable } = this.#options;
    if (
      supervisor === undefined ||
      cuttable === undefined ||
      !secretMatches(request.headers[SUPERVISOR_HEADER], supervisor.link.secret)
    ) {
      return {
        status: 403,
        body: { error: "only this node's supervisor may cut it off", code: 'forbidden' },
      };
    }
    let on: unknown;
    try {
      on = (JSON.parse(await request.body()) as { cut?: unknown }).cut;
    } catch {
      on = undefined;
    }
    if (typeof on !== 'boolean') {
      return { status: 400, body: { error: 'expected {"cut": true|false}', code: 'bad-request' } };
    }
    if (on !== cuttable.cut) {
      cuttable.cut = on;
      const id = this.#options.node.id;
      this.recorder.record(
        'cut',
        on ? `${id} cut off from its peers` : `${id} joined to its peers again`,
        `cut:${id}:${on}:${Date.now()}`,
      );
    }
    return { status: 200, body: { cut: on } };
  }
}

function sse(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}
