/**
 * @module
 * The node's side of membership changes: asking the core for one and waiting until it has
 * applied (for a joint change, until the configuration that leaves it has applied too),
 * adding a voter in one call (learner, catch-up, promotion), keeping the transport's peers in
 * step with the configuration in force, and noticing that this node was removed.
 */
import {
  type Entry,
  isJoint,
  isMember,
  isVoter,
  type MemberChange,
  type Membership,
  MembershipChangeError,
  type NodeId,
  type ProposalPosition,
  type RawNode,
} from '../core/index.js';
import type { Transport } from '../transport/index.js';
import type { Clock } from './clock.js';
import type { NodeLogger } from './options.js';
import type { Waiter, Waiters } from './waiter.js';

export interface MemberInfo {
  readonly id: NodeId;
  /** Where the member's Raft transport listens. */
  readonly address: string;
}

export interface MemberList {
  readonly voters: readonly MemberInfo[];
  readonly learners: readonly MemberInfo[];
  /** The voters on their way out while a joint configuration is in force; else empty. */
  readonly outgoing: readonly MemberInfo[];
  /** The index of the entry that carries this configuration (0: the one the cluster began with). */
  readonly index: number;
}

/** How a membership change ended: the configuration in force once it applied. */
export interface ChangeResult extends MemberList {}

export interface MembersContext {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly transport: Transport;
  readonly waiters: Waiters;
  readonly clock: Clock;
  readonly logger: NodeLogger;
  /** Where a member listens when the configuration does not say: the node's options, or its id. */
  fallbackAddress(id: NodeId): string;
  /** Appends through the proposals, resolving when the entry at the position applies. */
  propose(
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    append: () => ProposalPosition,
  ): Promise<unknown>;
  /** The transport's peers are now these (id to address, this node left out). */
  updatePeers(peers: Readonly<Record<NodeId, string>>): void;
  /** The configuration in force changed: listeners told. */
  changed(list: MemberList): void;
  /** This node is out of the configuration, and its removal is committed. */
  removed(index: number): void;
}

export interface ChangeOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

interface Leaving {
  /** The index of the joint configuration's entry. */
  readonly joint: number;
  readonly waiter: Waiter<void>;
}

export class Members {
  readonly #ctx: MembersContext;
  /** The configuration last seen in force, to tell when it changes. */
  #seen: Membership | null = null;
  #seenCommitted = false;
  /** Changes through a joint configuration, waiting for the entry that leaves it to apply. */
  readonly #leaving = new Set<Leaving>();
  #removedReported = false;

  constructor(context: MembersContext) {
    this.#ctx = context;
  }

  /** The configuration in force on this node (the last one in its log). */
  list(): MemberList {
    const { raw } = this.#ctx;
    const m = raw.membership();
    const info = (ids: Iterable<NodeId>): MemberInfo[] =>
      [...ids].map((id) => ({ id, address: this.addressOf(id, m) }));
    const outgoing = [...m.outgoingVoters].filter((id) => !m.voters.has(id));
    return {
      voters: info(m.voters),
      learners: info(m.learners),
      outgoing: info(outgoing),
      index: raw.membershipIndex(),
    };
  }

  /** Where `id` listens: as the configuration says, else as the node was told, else its id. */
  addressOf(id: NodeId, m: Membership = this.#ctx.raw.membership()): string {
    return m.addresses.get(id) ?? this.#ctx.fallbackAddress(id);
  }

  /**
   * Changes the membership (on the leader) and resolves once the change has applied here;
   * through a joint configuration, once the configuration that leaves it has applied.
   */
  async change(changes: readonly MemberChange[], options: ChangeOptions): Promise<ChangeResult> {
    const { raw, waiters, clock } = this.#ctx;
    const deadline = clock.now() + options.timeoutMs;
    const remaining = (): number => Math.max(1, deadline - clock.now());
    let index: number;
    for (;;) {
      try {
        index = (await this.#ctx.propose('membership change', remaining(), options.signal, () =>
          raw.changeMembership(changes),
        )) as number;
        break;
      } catch (e) {
        // A new leader commits its first entry within a round trip: worth waiting for.
        const notReady = e instanceof MembershipChangeError && e.reason === 'not-ready';
        if (!notReady || clock.now() + 20 >= deadline) throw e;
        await this.#sleep(10);
      }
    }
    if (isJoint(raw.membershipAt(index))) {
      let entry: Leaving | undefined;
      const waiter = waiters.create<void>(
        'leaving the joint configuration',
        Math.max(1, deadline - clock.now()),
        options.signal,
        () => {
          if (entry !== undefined) this.#leaving.delete(entry);
        },
      );
      entry = { joint: index, waiter };
      if (!waiter.settled) this.#leaving.add(entry);
      this.#checkLeft(raw.status().appliedIndex);
      await waiter.promise;
    }
    return this.list();
  }

  /**
   * Adds `id` as a learner (unless it is one), waits until its log is within the core's
   * promotion bound of the leader's, then promotes it. Resolves once it votes.
   */
  async addVoter(
    id: NodeId,
    address: string | undefined,
    options: ChangeOptions,
  ): Promise<ChangeResult> {
    const { raw, clock } = this.#ctx;
    const deadline = clock.now() + options.timeoutMs;
    const remaining = (): number => Math.max(1, deadline - clock.now());
    const m = raw.membership();
    if (isVoter(m, id) && m.voters.has(id)) {
      throw new MembershipChangeError('already-member', `${id} is already a voter`);
    }
    if (!isMember(m, id)) {
      const add: MemberChange =
        address === undefined ? { type: 'add-learner', id } : { type: 'add-learner', id, address };
      await this.change([add], { timeoutMs: remaining(), signal: options.signal });
    }
    for (;;) {
      try {
        return await this.change([{ type: 'add-voter', id }], {
          timeoutMs: remaining(),
          signal: options.signal,
        });
      } catch (e) {
        const retry = e instanceof MembershipChangeError && e.reason === 'not-caught-up';
        if (!retry || clock.now() + 50 >= deadline) throw e;
        await this.#sleep(Math.min(100, remaining()));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#ctx.clock.setTimer(ms, resolve));
  }

  /** A configuration entry applied. */
  applied(e: Entry): void {
    this.#checkLeft(e.index);
    this.#checkRemoved();
  }

  /**
   * Called after every Ready: tells when the configuration in force changed, and once it is
   * committed (members it removed stop being peers only then: they must hear of it).
   */
  sync(): void {
    const { raw } = this.#ctx;
    const m = raw.membership();
    const committed = raw.commitIndex >= raw.membershipIndex();
    if (m === this.#seen && committed === this.#seenCommitted) return;
    const first = this.#seen === null;
    const changed = m !== this.#seen;
    this.#seen = m;
    this.#seenCommitted = committed;
    this.#ctx.updatePeers(this.peers());
    this.#checkRemoved();
    if (!changed) return;
    const list = this.list();
    this.#ctx.changed(list);
    if (!first) {
      const names = (l: readonly MemberInfo[]): string => l.map((i) => i.id).join(' ');
      this.#ctx.logger.info(
        { index: list.index, voters: list.voters.map((v) => v.id) },
        `configuration at ${list.index}: voters (${names(list.voters)})${list.outgoing.length > 0 ? ` with (${names(list.outgoing)}) leaving` : ''}${list.learners.length > 0 ? `, learners (${names(list.learners)})` : ''}`,
      );
    }
  }

  /**
   * Peers for the transport: every member but this node, with its address, of the
   * configuration in force and of the one committed (until their removal is committed,
   * removed members still hear from this node).
   */
  peers(): Record<NodeId, string> {
    const { raw } = this.#ctx;
    const peers: Record<NodeId, string> = {};
    for (const m of [raw.membershipAt(raw.commitIndex), raw.membership()]) {
      for (const id of [...m.voters, ...m.outgoingVoters, ...m.learners]) {
        if (id !== this.#ctx.id) peers[id] = this.addressOf(id, m);
      }
    }
    return peers;
  }

  /** Resolves the joint changes whose leaving configuration has applied. */
  #checkLeft(applied: number): void {
    if (this.#leaving.size === 0) return;
    const { raw } = this.#ctx;
    // Applied past the joint entry and no longer joint: the entry that leaves it applied.
    if (isJoint(raw.membershipAt(applied))) return;
    for (const entry of [...this.#leaving]) if (applied > entry.joint) entry.waiter.resolve();
  }

  #checkRemoved(): void {
    if (this.#removedReported) return;
    const { raw, id } = this.#ctx;
    const m = raw.membership();
    if (m.voters.size === 0 || isMember(m, id)) return;
    const index = raw.membershipIndex();
    if (raw.status().commitIndex < index) return;
    this.#removedReported = true;
    this.#ctx.removed(index);
  }
}
