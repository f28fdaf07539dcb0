/**
 * @module
 * A key-value node as `raftkit node` runs it: the Raft node with a `KvStore` on the real disk
 * and sockets, its metrics, and its HTTP server.
 */
import { type NodeLogger, type RaftNode, type StartNodeOptions, startNode } from '../node/index.js';
import { Advertiser, reachableUrl } from './advertiser.js';
import { type DashboardRoutes, KvHttpServer, type KvServerOptions } from './http-server.js';
import { KvStore } from './kv-store.js';
import { KvMetrics } from './metrics.js';
import type { SessionOptions } from './sessions.js';

export interface KvNodeOptions extends Omit<StartNodeOptions<KvStore>, 'stateMachine' | 'onFlush'> {
  /** Where the HTTP API listens, `host:port`; none when absent. */
  readonly http?: string;
  readonly sessions?: SessionOptions;
  readonly server?: Omit<KvServerOptions, 'node' | 'listen' | 'metrics' | 'logger' | 'dashboard'>;
  readonly logger?: NodeLogger;
  /**
   * The URL other members and tools reach this node's API by, published through the log
   * (see `advertiser.ts`). Default: the server's own URL, unless it listens on every
   * interface (0.0.0.0 names no address), when nothing is advertised.
   */
  readonly advertiseUrl?: string;
  /** Serves the dashboard's routes (the `ui` layer's), made once the node is running. */
  readonly dashboard?: (parts: DashboardParts) => DashboardRoutes;
}

/** What the dashboard is made from. */
export interface DashboardParts {
  readonly node: RaftNode<KvStore>;
  readonly metrics: KvMetrics;
  /** The advertised URL, once the server listens (null before, or when there is none). */
  url(): string | null;
}

export interface KvNode {
  readonly node: RaftNode<KvStore>;
  readonly store: KvStore;
  readonly metrics: KvMetrics;
  /** Null without `http`. */
  readonly server: KvHttpServer | null;
  /** Stops serving HTTP, then stops the node. */
  stop(): Promise<void>;
}

export async function startKvNode(options: KvNodeOptions): Promise<KvNode> {
  const metrics = new KvMetrics();
  const store = new KvStore(options.sessions);
  const node = await startNode({
    ...options,
    stateMachine: store,
    onFlush: metrics.flush,
    onWriteStage: metrics.writeStage,
  });
  metrics.bind(node);
  let server: KvHttpServer | null = null;
  let url: string | null = null;
  let advertiser: Advertiser | null = null;
  if (options.http !== undefined) {
    try {
      const dashboard = options.dashboard?.({ node, metrics, url: () => url });
      server = await KvHttpServer.start({
        ...options.server,
        node,
        listen: options.http,
        metrics,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        ...(dashboard === undefined ? {} : { dashboard }),
      });
      url = options.advertiseUrl ?? reachableUrl(server.url);
      if (url !== null) advertiser = new Advertiser(node, url, options.logger);
    } catch (e) {
      await node.stop();
      throw e;
    }
  }
  return {
    node,
    store,
    metrics,
    server,
    async stop() {
      advertiser?.stop();
      await server?.close();
      await node.stop();
    },
  };
}
