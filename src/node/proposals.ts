/**
 * @module
 * Proposals in flight, and how each one ends. A leader's own proposal is known by the index
 * of its entry; a follower forwards its proposal to the leader of its term and knows it by a
 * request number, which the entry carries back when it applies (`command.ts`). Each resolves
 * with the state machine's result once its entry applies, or fails: superseded by another
 * leader's entry (never applied, safe to retry), refused by the leader (the same typed error
 * it had), timed out or aborted (outcome unknown).
 */
import {
  type AssertionError,
  type Entry,
  type NodeId,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  type ProposalDropReason,
  type ProposalPosition,
  type RawNode,
} from '../core/index.js';
import type { ForwardProposal, ForwardRefusal, Transport } from '../transport/index.js';
import { type Command, decodeCommand, encodeStamped, encodeTagged, stamp } from './command.js';
import type { Leadership } from './leadership.js';
import type { Waiter, Waiters } from './waiter.js';

/** What applying an entry gave: the state machine's result, or the error it threw. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

interface Pending {
  /** The leader's term the proposal was made in (its own, or the one forwarded to). */
  readonly term: number;
  readonly waiter: Waiter<unknown>;
}

export interface ProposalsContext {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly transport: Transport;
  /** Random per start: tells this life's forwarded requests from a previous life's. */
  readonly incarnation: number;
  readonly maxCommandBytes: number;
  readonly waiters: Waiters;
  readonly leadership: Leadership;
  /** The log time this leader stamps on what it proposes now. */
  stamp(): number;
  schedule(): void;
  notLeader(): NotLeaderError;
  addressOf(id: NodeId | null): string | null;
  /** Told of the index of each entry this leader appends for a proposal. */
  proposed?(index: number): void;
  /** Stops the node if `e` is an assertion, and returns it; undefined otherwise. */
  brokenInvariant(e: unknown): AssertionError | undefined;
}

export class Proposals {
  readonly #ctx: ProposalsContext;
  /** The leader's own proposals, by the index of their entry. */
  readonly #byIndex = new Map<number, Pending>();
  /** Proposals this node forwarded to the leader, by request number. */
  readonly #byRequest = new Map<number, Pending>();
  #nextRequest = 0;

  constructor(context: ProposalsContext) {
    this.#ctx = context;
  }

  /** Proposes `command` on this node, the leader. */
  here(command: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const { raw } = this.#ctx;
    return this.local('proposal', timeoutMs, signal, () =>
      raw.propose([encodeStamped(command, this.#ctx.stamp())]),
    );
  }

  /**
   * Appends an entry on this node, the leader, with `append`, and settles once the entry at
   * the position it returns applies (or another leader's entry takes its place).
   */
  local(
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    append: () => ProposalPosition,
  ): Promise<unknown> {
    const { waiters } = this.#ctx;
    let index = 0;
    const waiter = waiters.create<unknown>(what, timeoutMs, signal, () =>
      this.#byIndex.delete(index),
    );
    if (waiter.settled) return waiter.promise;
    try {
      const position = append();
      index = position.lastIndex;
      this.#byIndex.set(index, { term: position.term, waiter });
      this.#ctx.proposed?.(index);
      this.#ctx.schedule();
    } catch (e) {
      waiter.reject(this.#ctx.brokenInvariant(e) ?? (e as Error));
    }
    return waiter.promise;
  }

  /** Hands `command` to the leader of this node's term. */
  forward(command: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const { id, leadership, transport, waiters } = this.#ctx;
    const leader = leadership.leader;
    if (leader === null) return Promise.reject(this.#ctx.notLeader());
    const request = ++this.#nextRequest;
    const waiter = waiters.create<unknown>('forwarded proposal', timeoutMs, signal, () =>
      this.#byRequest.delete(request),
    );
    if (waiter.settled) return waiter.promise;
    const term = leadership.term;
    this.#byRequest.set(request, { term, waiter });
    const data = encodeTagged(command, id, this.#ctx.incarnation, request);
    transport.send({ type: 'forward', from: id, to: leader, id: request, term, commands: [data] });
    return waiter.promise;
  }

  /** The leader takes a follower's forwarded commands, or says why not. */
  onForward(m: ForwardProposal): void {
    const { raw } = this.#ctx;
    try {
      if (m.term !== raw.term) {
        // Taken in another term than the follower's, it could apply after the follower has
        // judged it superseded (see `supersede`).
        throw new ProposalDroppedError(
          'superseded',
          `forwarded to the leader of term ${m.term}; this node is in term ${raw.term}`,
        );
      }
      for (const c of m.commands) this.#checkForwarded(c, m.from);
      const time = this.#ctx.stamp();
      raw.propose(m.commands.map((c) => stamp(c, time)));
    } catch (e) {
      // Anything but a refusal (a broken invariant above all) is thrown on: it stops the node.
      const refusal = this.#refusal(e, m);
      if (refusal === null) throw e;
      this.#ctx.transport.send(refusal);
    }
  }

  #checkForwarded(data: Uint8Array, from: NodeId): void {
    const command = decodeCommand(data);
    if (typeof command === 'string' || command.origin !== from || command.time !== null) {
      throw new ProposalDroppedError(
        'invalid',
        'a forwarded command must carry its origin, and no time (the leader stamps it)',
      );
    }
    if (command.payload.byteLength > this.#ctx.maxCommandBytes) {
      throw new ProposalDroppedError('too-large', `${command.payload.byteLength}-byte command`);
    }
  }

  /** The refusal that tells a follower why its forwarded proposal was not taken. */
  #refusal(e: unknown, m: ForwardProposal): ForwardRefusal | null {
    const base = {
      type: 'forward-refusal',
      from: this.#ctx.id,
      to: m.from,
      id: m.id,
      leader: this.#ctx.leadership.leader,
      term: this.#ctx.leadership.term,
    } as const;
    if (e instanceof NotLeaderError) {
      return { ...base, code: 'RAFT_NOT_LEADER', reason: null, limit: null, detail: e.message };
    }
    if (e instanceof ProposalDroppedError) {
      const fields = { reason: e.reason, limit: null, detail: e.detail };
      return { ...base, code: 'RAFT_PROPOSAL_DROPPED', ...fields };
    }
    if (e instanceof OverloadedError) {
      return { ...base, code: 'RAFT_OVERLOADED', reason: null, limit: e.limit, detail: e.detail };
    }
    return null;
  }

  onRefusal(m: ForwardRefusal): void {
    this.#byRequest.get(m.id)?.waiter.reject(this.#remoteError(m));
  }

  /** The typed error a leader's refusal stands for, rebuilt from its fields. */
  #remoteError(m: ForwardRefusal): Error {
    const detail = `refused by ${m.from}: ${m.detail}`;
    switch (m.code) {
      case 'RAFT_NOT_LEADER':
        return new NotLeaderError(m.leader, m.term, this.#ctx.addressOf(m.leader));
      case 'RAFT_OVERLOADED':
        return new OverloadedError(m.limit as string, detail);
      case 'RAFT_PROPOSAL_DROPPED':
        return new ProposalDroppedError(m.reason as ProposalDropReason, detail);
    }
  }

  /** Entry `e` is about to apply: a proposal of this node at its index of another term lost. */
  displaced(e: Entry): void {
    const local = this.#byIndex.get(e.index);
    if (local !== undefined && local.term !== e.term) {
      local.waiter.reject(
        new ProposalDroppedError('superseded', `entry ${e.index} is another leader's`),
      );
    }
  }

  /**
   * Entry `e` applied with `outcome`: its proposal, if this node's, ends. `command` is what the
   * entry holds, or null when its bytes are no command (then only a local proposal is known).
   */
  applied(e: Entry, command: Command | null, outcome: Outcome): void {
    const local = this.#byIndex.get(e.index);
    if (local !== undefined && local.term === e.term) settle(local.waiter, outcome);
    if (command === null) return;
    if (command.origin === this.#ctx.id && command.incarnation === this.#ctx.incarnation) {
      const forwarded = this.#byRequest.get(command.request);
      if (forwarded !== undefined) settle(forwarded.waiter, outcome);
    }
  }

  /**
   * An entry of `term` is being applied: every older-term proposal of this node not yet applied
   * lies at a later index, where terms can only be higher. None of them will ever apply. The
   * same holds for a forwarded proposal: a leader takes one only in the term it was sent for.
   * So a follower whose leader vanished learns it once the next leader's first entry applies,
   * not when its request times out.
   */
  supersede(term: number): void {
    for (const [index, p] of [...this.#byIndex]) {
      if (p.term < term) {
        p.waiter.reject(
          new ProposalDroppedError('superseded', `entry ${index} was replaced in term ${term}`),
        );
      }
    }
    for (const [request, p] of [...this.#byRequest]) {
      if (p.term < term) {
        p.waiter.reject(
          new ProposalDroppedError(
            'superseded',
            `forwarded request ${request} of term ${p.term} was not taken before term ${term}`,
          ),
        );
      }
    }
  }
}

function settle(waiter: Waiter<unknown>, outcome: Outcome): void {
  if (outcome.ok) waiter.resolve(outcome.value);
  else waiter.reject(outcome.error);
}
