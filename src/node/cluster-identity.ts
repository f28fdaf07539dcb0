/**
 * @module
 * The identity a cluster draws when it first forms, so that two clusters of the same name
 * (a node started with another cluster's data) cannot mix. Its first leader, once an entry of
 * its own term has applied (so every committed entry has, and an identity among them would be
 * known), draws one and writes it in the log. Every node binds to it as it applies that entry:
 * it records it with its data and its transport puts it on every frame, refusing peers of
 * another identity. If the entry is lost with its leader, the next leader writes one; once one
 * commits, every later leader has applied it before it could write another.
 */
import {
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  type Random,
  type RawNode,
} from '../core/index.js';
import type { DurableStorage } from '../storage/index.js';
import type { Transport } from '../transport/index.js';
import { encodeClusterIdentity } from './command.js';
import type { NodeLogger } from './options.js';

export interface IdentityContext {
  readonly raw: RawNode;
  readonly random: Random;
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly logger: NodeLogger;
  schedule(): void;
  /** Stops the node: the identity could not be recorded. */
  fail(error: Error): void;
}

export class ClusterIdentity {
  readonly #ctx: IdentityContext;
  #identity: string | null;
  /** The term in which this node, leading, proposed an identity. */
  #proposedIn = 0;

  constructor(context: IdentityContext) {
    this.#ctx = context;
    // Known from an earlier life: frames carry it from the start.
    this.#identity = context.storage.clusterIdentity?.() ?? null;
    if (this.#identity !== null) context.transport.bindCluster?.(this.#identity);
  }

  /** Null until this node has applied the entry that names it. */
  get value(): string | null {
    return this.#identity;
  }

  /** The log names the cluster's identity at `index`: from now on, frames carry it. */
  learn(identity: string, index: number): void {
    if (this.#identity === identity) return;
    if (this.#identity !== null) {
      // Only the first applied identity counts; `proposeIfFirst` writes no second.
      this.#ctx.logger.warn(
        { index, identity, cluster: this.#identity },
        `entry ${index} names another cluster identity than the one recorded; kept ${this.#identity}`,
      );
      return;
    }
    this.#identity = identity;
    this.#ctx.transport.bindCluster?.(identity);
    this.#ctx.storage.bindCluster?.(identity).catch((e: unknown) => {
      this.#ctx.fail(e instanceof Error ? e : new Error(String(e)));
    });
    this.#ctx.logger.info({ cluster: identity, index }, `cluster identity ${identity}`);
  }

  /**
   * Called after entries apply: a leader of a cluster without an identity, once an entry of its
   * own term has applied, writes one.
   */
  proposeIfFirst(leading: boolean, term: number, appliedTerm: number): void {
    if (this.#identity !== null || !leading) return;
    if (appliedTerm !== term || this.#proposedIn === term) return;
    this.#proposedIn = term;
    const hex = () =>
      this.#ctx.random
        .int(2 ** 32)
        .toString(16)
        .padStart(8, '0');
    try {
      this.#ctx.raw.propose([encodeClusterIdentity(`${hex()}${hex()}`)]);
      this.#ctx.schedule();
    } catch (e) {
      // Refused for now (overloaded, a transfer under way): again after the next apply.
      // Stepped down: the next leader writes it. Anything else is a broken invariant.
      if (e instanceof OverloadedError || e instanceof ProposalDroppedError) {
        this.#proposedIn = 0;
      } else if (!(e instanceof NotLeaderError)) {
        throw e;
      }
    }
  }
}
