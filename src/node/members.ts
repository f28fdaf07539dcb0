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
  type MembershipRefusal,
  membershipRefusals,
  type NodeId,
  NotLeaderError,
  ProposalDroppedError,
  type ProposalDropReason,
  type ProposalPosition,
  proposalDropReasons,
  RaftError,
  type RawNode,
  TransferRejectedError,
} from '../core/index.js';
import type { MemberReply, MemberReplyCode, MemberRequest, Transport } from '../transport/index.js';
import type { Clock } from './clock.js';
import { TimeoutError } from './errors.js';
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
  /**
   * While a joint configuration is in force, the old voters (each decision needs a majority
   * of them as well as of `voters`); else empty.
   */
  readonly outgoing: readonly MemberInfo[];
  /** The index of the entry that carries this configuration (0: the one the cluster began with). */
  readonly index: number;
}

/** How a membership change ended: the configuration in force once it applied. */
export interface ChangeResult extends MemberList {}

export interface MembersContext {
  readonly id: NodeId;
  /**
   * This node started empty to join a running cluster (`join: true`): until `joined()` says
   * at which configuration it was added, nothing in the log it is sent can mean it was
   * removed (see `#checkRemoved`).
   */
  readonly joining?: boolean;
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
  /** The leader this node knows, and the term. */
  leader(): { readonly leader: NodeId | null; readonly term: number; readonly isLeader: boolean };
  /** Hands leadership to `to` (this node leads); resolves once `to` leads. */
  transfer(to: NodeId, timeoutMs: number): Promise<void>;
  /**
   * How long a removed member stays a peer after its removal is committed: the leader keeps
   * telling it the commit (and answering what it forwarded) until it forgets it, within an
   * election timeout.
   */
  readonly removedPeerGraceMs: number;
}

/** What a follower asks its leader to do (the JSON of a `member-request`). */
export type ForwardedChange =
  | { readonly changes: readonly MemberChange[] }
  | { readonly addVoter: { readonly id: NodeId; readonly address?: string } }
  | { readonly transfer: NodeId };

/** Longest a leader works on a forwarded request, whatever the requester asked. */
const MAX_FORWARDED_MS = 10 * 60_000;

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
  #removedAt: number | null = null;
  #listed: { readonly m: Membership; readonly list: MemberList } | null = null;
  /** Joining, not yet told where it was added (`joined`). */
  #joining: boolean;
  /** The configuration that added this node, if it joined; 0 otherwise. */
  #joinedAt = 0;
  /** This node has been in the configuration in force at some point of this life. */
  #wasMember = false;
  /** Requests this node forwarded to its leader, by number. */
  readonly #forwarded = new Map<number, Waiter<number>>();
  #nextRequest = 0;
  /** Nodes told they are no members, until when they are not told again. */
  readonly #toldStrangers = new Map<NodeId, number>();
  /** Waits for this node to apply up to an index (a forwarded change applied at the leader). */
  readonly #applying = new Set<{ readonly index: number; readonly waiter: Waiter<void> }>();
  /** Members no longer in the configuration, still peers until then (see `removedPeerGraceMs`). */
  readonly #departing = new Map<NodeId, { readonly address: string; readonly until: number }>();
  /** The peers last given to the transport. */
  #peers: Record<NodeId, string> = {};

  constructor(context: MembersContext) {
    this.#ctx = context;
    this.#joining = context.joining === true;
  }

  /**
   * A node that joins was added by the configuration at `index`: from now on a later one that
   * leaves it out removes it.
   */
  joined(index: number): void {
    this.#joining = false;
    this.#joinedAt = Math.max(this.#joinedAt, index);
    this.#checkRemoved();
  }

  /** The configuration in force on this node (the last one in its log). */
  list(): MemberList {
    const { raw } = this.#ctx;
    const m = raw.membership();
    const index = raw.membershipIndex();
    // The same configuration gives the same (frozen) list: asked for often, it seldom changes.
    const cached = this.#listed;
    if (cached !== null && cached.m === m && cached.list.index === index) return cached.list;
    const info = (ids: Iterable<NodeId>): MemberInfo[] =>
      [...ids].map((id) => Object.freeze({ id, address: this.addressOf(id, m) }));
    const list = Object.freeze({
      voters: Object.freeze(info(m.voters)),
      learners: Object.freeze(info(m.learners)),
      outgoing: Object.freeze(info(m.outgoingVoters)),
      index,
    });
    this.#listed = { m, list };
    return list;
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
      this.#checkLeft(raw.appliedIndex);
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

  /** Entries applied up to `index` (of any kind). */
  appliedTo(index: number): void {
    for (const a of [...this.#applying]) if (index >= a.index) a.waiter.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // Forwarding: a follower's request, carried out by the leader

  /**
   * Asks the leader to carry out `request`, and resolves once it did and this node has
   * applied the configuration it ended in (so that `list()` shows it).
   */
  async forward(request: ForwardedChange, options: ChangeOptions): Promise<ChangeResult> {
    const { waiters, transport, clock } = this.#ctx;
    const { leader, term } = this.#ctx.leader();
    if (leader === null) throw new NotLeaderError(null, term);
    const deadline = clock.now() + options.timeoutMs;
    const id = ++this.#nextRequest;
    const waiter = waiters.create<number>(
      'forwarded membership request',
      options.timeoutMs,
      options.signal,
      () => this.#forwarded.delete(id),
    );
    if (!waiter.settled) this.#forwarded.set(id, waiter);
    transport.send({
      type: 'member-request',
      from: this.#ctx.id,
      to: leader,
      id,
      term,
      timeoutMs: options.timeoutMs,
      body: JSON.stringify(request),
    });
    const index = await waiter.promise;
    let entry: { index: number; waiter: Waiter<void> } | undefined;
    const applied = waiters.create<void>(
      'applying the new configuration',
      Math.max(1, deadline - clock.now()),
      options.signal,
      () => {
        if (entry !== undefined) this.#applying.delete(entry);
      },
    );
    entry = { index, waiter: applied };
    if (!applied.settled) this.#applying.add(entry);
    this.appliedTo(this.#ctx.raw.appliedIndex);
    await applied.promise;
    return this.list();
  }

  /** The leader carries out a follower's request and answers once it is done. */
  onRequest(m: MemberRequest): void {
    const reply = (
      fields: Omit<MemberReply, 'type' | 'from' | 'to' | 'id' | 'term' | 'leader'>,
    ) => {
      const { leader, term } = this.#ctx.leader();
      this.#ctx.transport.send({
        type: 'member-reply',
        from: this.#ctx.id,
        to: m.from,
        id: m.id,
        term,
        leader,
        ...fields,
      });
    };
    const { isLeader } = this.#ctx.leader();
    if (!isLeader) {
      reply({ code: 'RAFT_NOT_LEADER', reason: null, detail: 'not the leader', index: 0 });
      return;
    }
    const request = parseForwarded(m.body);
    if (typeof request === 'string') {
      reply({ code: 'RAFT_MEMBERSHIP_REFUSED', reason: 'invalid', detail: request, index: 0 });
      return;
    }
    const options = { timeoutMs: Math.min(Math.max(1, m.timeoutMs), MAX_FORWARDED_MS) };
    let work: Promise<number>;
    if ('transfer' in request) {
      work = this.#ctx.transfer(request.transfer, options.timeoutMs).then(() => this.list().index);
    } else if ('addVoter' in request) {
      const { id, address } = request.addVoter;
      work = this.addVoter(id, address, options).then((r) => r.index);
    } else {
      work = this.change(request.changes, options).then((r) => r.index);
    }
    work.then(
      (index) => reply({ code: 'ok', reason: null, detail: '', index }),
      (e: unknown) => reply({ ...replyOf(e), index: 0 }),
    );
  }

  /**
   * A message from `from` reached this node. When this node leads, its configuration is
   * committed and leaves `from` out, and `from` campaigns: it was removed while cut off and
   * never heard of it. It is told (once per grace period), so that it can say so and stop.
   */
  onStranger(from: NodeId, campaigning: boolean): void {
    const { raw, clock, id } = this.#ctx;
    if (!campaigning || !this.#ctx.leader().isLeader) return;
    const m = raw.membership();
    if (isMember(m, from) || raw.membershipIndex() > raw.commitIndex) return;
    const now = clock.now();
    if ((this.#toldStrangers.get(from) ?? Number.NEGATIVE_INFINITY) > now) return;
    this.#toldStrangers.set(from, now + this.#ctx.removedPeerGraceMs);
    const index = raw.membershipIndex();
    this.#ctx.transport.send({
      type: 'member-reply',
      from: id,
      to: from,
      id: 0,
      term: raw.term,
      code: 'RAFT_NOT_MEMBER',
      reason: null,
      detail: `the configuration at ${index} leaves ${from} out`,
      leader: id,
      index,
    });
  }

  /** The leader's answer to a request this node forwarded. */
  onReply(m: MemberReply): void {
    if (m.id === 0 && m.code === 'RAFT_NOT_MEMBER') {
      // A leader of this term or a later one says this node is out: believed, as a leader's
      // entries would be (its configuration is committed, and the newest there is).
      if (this.#removedAt === null && !this.#joining && m.term >= this.#ctx.raw.term) {
        this.#removedAt = m.index;
        this.#ctx.removed(m.index);
      }
      return;
    }
    const waiter = this.#forwarded.get(m.id);
    if (waiter === undefined) return;
    if (m.code === 'ok') waiter.resolve(m.index);
    else waiter.reject(errorOf(m, (id) => this.addressOf(id)));
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
    this.#updatePeers();
    this.#checkRemoved();
    if (!changed) return;
    const list = this.list();
    this.#ctx.changed(list);
    if (!first) {
      const names = (l: readonly MemberInfo[]): string => l.map((i) => i.id).join(' ');
      this.#ctx.logger.info(
        { index: list.index, voters: list.voters.map((v) => v.id) },
        `configuration at ${list.index}: voters (${names(list.voters)})${list.outgoing.length > 0 ? ` joint with (${names(list.outgoing)})` : ''}${list.learners.length > 0 ? `, learners (${names(list.learners)})` : ''}`,
      );
    }
  }

  /** Drops the departed peers whose time is up (called on the node's ticks). */
  tick(): void {
    if (this.#departing.size === 0) return;
    const now = this.#ctx.clock.now();
    let expired = false;
    for (const [id, d] of this.#departing) {
      if (d.until <= now) {
        this.#departing.delete(id);
        expired = true;
      }
    }
    if (expired) this.#updatePeers(false);
  }

  /**
   * Gives the transport its peers. With `departures`, the peers the configuration no longer
   * names start their grace period; without (a grace period ended), none is added to it.
   */
  #updatePeers(departures = true): void {
    const next = this.peers();
    const now = this.#ctx.clock.now();
    for (const [id, address] of Object.entries(this.#peers)) {
      if (departures && !Object.hasOwn(next, id) && !this.#departing.has(id)) {
        this.#departing.set(id, { address, until: now + this.#ctx.removedPeerGraceMs });
      }
    }
    for (const [id, d] of this.#departing) {
      if (Object.hasOwn(next, id)) this.#departing.delete(id);
      else next[id] = d.address;
    }
    this.#peers = next;
    this.#ctx.updatePeers(next);
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

  /** The index of the committed configuration that left this node out, or null. */
  get removedAt(): number | null {
    return this.#removedAt;
  }

  #checkRemoved(): void {
    // A node that joins may be sent the whole log from its start: the configurations of an
    // earlier life under its id (one that removed it, if it was a member once, wiped and
    // added again) are history, not news.
    if (this.#removedAt !== null || this.#joining) return;
    const { raw, id } = this.#ctx;
    const m = raw.membership();
    if (m.voters.size === 0) return;
    if (isMember(m, id)) {
      this.#wasMember = true;
      return;
    }
    const index = raw.membershipIndex();
    if (raw.commitIndex < index || index <= this.#joinedAt) return;
    // A configuration that leaves this node out removes it only if this node was in the one
    // before (in its log, or earlier in this life). A node that joins is sent a snapshot
    // taken before it was added, whose configuration does not name it yet: no removal.
    if (!this.#wasMember && !isMember(raw.membershipAt(index - 1), id)) return;
    this.#removedAt = index;
    this.#ctx.removed(index);
  }
}

/** The request a `member-request` body holds, or why it holds none. */
function parseForwarded(body: string): ForwardedChange | string {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return 'the request is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'the request is not an object';
  const r = v as Record<string, unknown>;
  const text = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
  if (text(r.transfer)) return { transfer: r.transfer };
  if (typeof r.addVoter === 'object' && r.addVoter !== null) {
    const { id, address } = r.addVoter as Record<string, unknown>;
    if (!text(id) || (address !== undefined && !text(address))) return 'addVoter needs an id';
    return { addVoter: address === undefined ? { id } : { id, address } };
  }
  if (Array.isArray(r.changes)) {
    for (const c of r.changes) {
      if (typeof c !== 'object' || c === null) return 'a change is not an object';
      const { type, id, address } = c as Record<string, unknown>;
      if (type !== 'add-learner' && type !== 'add-voter' && type !== 'remove') {
        return `unknown change type ${String(type)}`;
      }
      if (typeof id !== 'string' || (address !== undefined && typeof address !== 'string')) {
        return 'a change needs a string id (and address)';
      }
    }
    return { changes: r.changes as MemberChange[] };
  }
  return 'the request names no change';
}

/** The reply fields that carry error `e` to the requester. */
function replyOf(e: unknown): Pick<MemberReply, 'code' | 'reason' | 'detail'> {
  const detail = e instanceof Error && e.message !== '' ? e.message : String(e);
  if (e instanceof MembershipChangeError) {
    return { code: 'RAFT_MEMBERSHIP_REFUSED', reason: e.reason, detail: e.detail };
  }
  if (e instanceof ProposalDroppedError) {
    return { code: 'RAFT_PROPOSAL_DROPPED', reason: e.reason, detail: e.detail };
  }
  const code: MemberReplyCode =
    e instanceof NotLeaderError
      ? 'RAFT_NOT_LEADER'
      : e instanceof TransferRejectedError
        ? 'RAFT_TRANSFER_REJECTED'
        : e instanceof TimeoutError
          ? 'RAFT_TIMEOUT'
          : 'RAFT_FAILED';
  return { code, reason: null, detail };
}

/** The typed error a leader's failed reply stands for. */
function errorOf(m: MemberReply, addressOf: (id: NodeId) => string): Error {
  const detail = `${m.detail} (at the leader ${m.from})`;
  switch (m.code) {
    case 'RAFT_MEMBERSHIP_REFUSED': {
      const reason = membershipRefusals.includes(m.reason as MembershipRefusal)
        ? (m.reason as MembershipRefusal)
        : 'invalid';
      return new MembershipChangeError(reason, detail);
    }
    case 'RAFT_PROPOSAL_DROPPED': {
      const reason = proposalDropReasons.includes(m.reason as ProposalDropReason)
        ? (m.reason as ProposalDropReason)
        : 'superseded';
      return new ProposalDroppedError(reason, detail);
    }
    case 'RAFT_NOT_LEADER':
      return new NotLeaderError(m.leader, m.term, m.leader === null ? null : addressOf(m.leader));
    case 'RAFT_TRANSFER_REJECTED':
      return new TransferRejectedError(m.from, detail);
    case 'RAFT_TIMEOUT':
      return new TimeoutError(`the leader's ${detail}`, 0);
    default:
      return new RaftError('RAFT_SERVER_ERROR', detail);
  }
}
