/**
 * @module
 * Each member publishes the URL of its HTTP API through the log (etcd's member attributes, in
 * spirit): members otherwise know one another by Raft address only, and the dashboard, which
 * any node serves, must reach every member's API. The URL lives in the key-value state (and
 * so in its snapshots); a member advertises again whenever the state says otherwise — a first
 * start, a new address, a cluster restored from a backup taken elsewhere.
 */
import type { RaftNode } from '../node/index.js';
import { encodeKvCommand } from './commands.js';
import type { KvStore } from './kv-store.js';

/** How often the state is compared with the URL, and a failed proposal retried. */
const CHECK_MS = 1000;

export interface AdvertiserLogger {
  warn(fields: object, message: string): void;
}

export class Advertiser {
  readonly #node: RaftNode<KvStore>;
  readonly #url: string;
  readonly #logger: AdvertiserLogger | undefined;
  readonly #timer: NodeJS.Timeout;
  #proposing = false;
  #failures = 0;

  constructor(node: RaftNode<KvStore>, url: string, logger?: AdvertiserLogger) {
    this.#node = node;
    this.#url = url;
    this.#logger = logger;
    this.#timer = setInterval(() => this.#check(), CHECK_MS);
    this.#timer.unref();
    node.on('leader', () => this.#check());
    node.once('stopped', () => this.stop());
    this.#check();
  }

  /** Whether the state holds this member's URL as it is now. */
  get published(): boolean {
    return this.#node.stateMachine.urls.get(this.#node.id) === this.#url;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const node = this.#node;
    if (this.#proposing || this.published || node.leader === null || node.removedAt !== null) {
      return;
    }
    this.#proposing = true;
    node
      .propose(encodeKvCommand({ op: 'advertise', id: node.id, url: this.#url }), {
        timeoutMs: 5000,
      })
      .then(
        () => {
          this.#failures = 0;
        },
        (e: unknown) => {
          // A leader change or a node still joining: the next check tries again. Said once
          // in a while, not at every second.
          if (this.#failures++ % 30 === 0) {
            this.#logger?.warn(
              { url: this.#url, reason: (e as Error).message },
              'could not advertise the HTTP URL yet; retrying',
            );
          }
        },
      )
      .finally(() => {
        this.#proposing = false;
      });
  }
}

/**
 * The URL a server listening at `url` is reached by, or null when it listens on every
 * interface (0.0.0.0, ::), which names no address another machine could use.
 */
export function reachableUrl(url: string): string | null {
  const host = new URL(url).hostname;
  return host === '0.0.0.0' || host === '[::]' ? null : url;
}
