/**
 * @module
 * A key-value node as `raftkit node` runs it: the Raft node with a `KvStore` on the real disk
 * and sockets, its metrics, and its HTTP server.
 */
import { type NodeLogger, type RaftNode, type StartNodeOptions, startNode } from '../node/index.js';
import { KvHttpServer, type KvServerOptions } from './http-server.js';
import { KvStore } from './kv-store.js';
import { KvMetrics } from './metrics.js';
import type { SessionOptions } from './sessions.js';

export interface KvNodeOptions extends Omit<StartNodeOptions<KvStore>, 'stateMachine' | 'onFlush'> {
  /** Where the HTTP API listens, `host:port`; none when absent. */
  readonly http?: string;
  readonly sessions?: SessionOptions;
  readonly server?: Omit<KvServerOptions, 'node' | 'listen' | 'metrics' | 'logger'>;
  readonly logger?: NodeLogger;
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
  if (options.http !== undefined) {
    try {
      server = await KvHttpServer.start({
        ...options.server,
        node,
        listen: options.http,
        metrics,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      });
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
      await server?.close();
      await node.stop();
    },
  };
}
