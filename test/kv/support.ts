/**
 * In-process key-value clusters for tests: real nodes on real disks (temporary directories)
 * and real sockets on free loopback ports, with fast timing. Each node can be stopped and
 * started again on the same directory and ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KvNode, type KvNodeOptions, startKvNode } from '../../src/kv/index.js';
import { fastTiming } from '../node/support.js';
import { eventually, freePorts } from '../support/ports.js';

export class KvCluster {
  readonly nodes: (KvNode | null)[];

  private constructor(
    readonly dir: string,
    readonly raft: readonly string[],
    readonly http: readonly string[],
    readonly extra: Partial<KvNodeOptions>,
  ) {
    this.nodes = raft.map(() => null);
  }

  /** `size` nodes; only those in `running` (default all) are started. */
  static async start(
    size = 3,
    extra: Partial<KvNodeOptions> = {},
    running: readonly number[] = Array.from({ length: size }, (_, i) => i),
  ): Promise<KvCluster> {
    const ports = await freePorts(2 * size);
    const raft = ports.slice(0, size).map((p) => `127.0.0.1:${p}`);
    return KvCluster.on(
      raft,
      ports.slice(size).map((p) => `127.0.0.1:${p}`),
      extra,
      running,
    );
  }

  /** A cluster on these addresses (another cluster's, say), in a new directory. */
  static async on(
    raft: readonly string[],
    http: readonly string[],
    extra: Partial<KvNodeOptions> = {},
    running: readonly number[] = raft.map((_, i) => i),
  ): Promise<KvCluster> {
    const cluster = new KvCluster(mkdtempSync(join(tmpdir(), 'raftkit-kv-')), raft, http, extra);
    try {
      await Promise.all(running.map((i) => cluster.startNode(i)));
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  get urls(): string[] {
    return this.http.map((a) => `http://${a}`);
  }

  /** Starts node `i`; `options` are added to the cluster's for this node only. */
  async startNode(i: number, options: Partial<KvNodeOptions> = {}): Promise<KvNode> {
    const node = await startKvNode({
      ...fastTiming,
      address: this.raft[i] as string,
      peers: this.raft,
      dataDir: join(this.dir, `node${i}`),
      http: this.http[i] as string,
      ...this.extra,
      ...options,
    });
    this.nodes[i] = node;
    return node;
  }

  async stopNode(i: number): Promise<void> {
    await this.nodes[i]?.stop();
    this.nodes[i] = null;
  }

  /** The index of the leader, once every running node agrees on one. */
  async leader(timeoutMs = 5000): Promise<number> {
    let found = -1;
    await eventually(
      () => {
        const running = this.nodes.filter((n): n is KvNode => n !== null);
        const leaders = new Set(running.map((n) => n.node.leader));
        const [id] = leaders;
        found = this.raft.indexOf(id ?? '');
        return leaders.size === 1 && found >= 0 && this.nodes[found] !== null;
      },
      'a leader every running node knows',
      timeoutMs,
    );
    return found;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.stopNode(i)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

/** One HTTP request, its JSON body parsed (when it is JSON). */
export async function request(
  url: string,
  method = 'GET',
  body?: string,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(text);
  } catch {}
  return {
    status: res.status,
    headers: res.headers,
    body: (parsed ?? {}) as Record<string, unknown>,
    text,
  };
}
