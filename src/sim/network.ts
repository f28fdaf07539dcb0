/**
 * @module
 * The simulated network. Every message is encoded and decoded by the real wire codec (one set
 * of checks, and no object shared between nodes), then delivered by the scheduler after a
 * latency of its own, so messages overtake each other. Links can be cut one way or both;
 * while a lossy period is on, messages are lost, duplicated, delayed a little (reordered) or a
 * lot (spikes), each with its probability.
 */
import type { NodeId } from '../core/index.js';
import {
  deliverSafely,
  type MessageHandler,
  type Transport,
  type TransportStats,
  WireCodec,
  type WireMessage,
} from '../transport/index.js';
import type { SimClock } from './clock.js';
import type { SimRandom } from './random.js';
import type { Actor, Scheduler } from './scheduler.js';

/** Probabilities, per message, while a lossy period is on. */
export interface MessageFaults {
  readonly loss: number;
  readonly duplicate: number;
  /** A small extra delay (up to 20 ms): enough to overtake later messages. */
  readonly reorder: number;
  /** A large extra delay (0.1 to 1.5 s). */
  readonly spike: number;
}

export const noMessageFaults: MessageFaults = { loss: 0, duplicate: 0, reorder: 0, spike: 0 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  /** Dropped by a cut link. */
  cut: number;
  lost: number;
  duplicated: number;
  reordered: number;
  spiked: number;
}

export class SimNetwork {
  readonly #scheduler: Scheduler;
  readonly #random: SimRandom;
  readonly #endpoints = new Map<NodeId, SimTransport>();
  /** Directed links that are cut, as `from\u0000to`, with how many faults cut each. */
  readonly #cut = new Map<string, number>();
  faults: MessageFaults = noMessageFaults;
  /** Told of every message a node sends, before the network decides its fate. */
  observer: ((message: WireMessage) => void) | null = null;
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    cut: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    spiked: 0,
  };

  constructor(scheduler: Scheduler, random: SimRandom) {
    this.#scheduler = scheduler;
    this.#random = random;
  }

  /** A transport for one life of node `id`. */
  transport(id: NodeId, actor: Actor, clock: SimClock): SimTransport {
    return new SimTransport(this, id, actor, clock);
  }

  /** Cuts the link from `from` to `to`; overlapping cuts are counted, each restored apart. */
  cut(from: NodeId, to: NodeId): void {
    const key = `${from}\u0000${to}`;
    this.#cut.set(key, (this.#cut.get(key) ?? 0) + 1);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.#cut.has(`${from}\u0000${to}`);
  }

  restore(from: NodeId, to: NodeId): void {
    const key = `${from}\u0000${to}`;
    const count = this.#cut.get(key) ?? 0;
    if (count <= 1) this.#cut.delete(key);
    else this.#cut.set(key, count - 1);
  }

  healAll(): void {
    this.#cut.clear();
    this.faults = noMessageFaults;
  }

  /** @internal */
  join(t: SimTransport): void {
    this.#endpoints.set(t.id, t);
  }

  /** @internal */
  leave(t: SimTransport): void {
    if (this.#endpoints.get(t.id) === t) this.#endpoints.delete(t.id);
  }

  /** @internal */
  carry(message: WireMessage, bytes: Uint8Array): void {
    this.stats.sent++;
    this.observer?.(message);
    const { from, to } = message;
    if (this.isCut(from, to)) {
      this.stats.cut++;
      return;
    }
    // The receiver's current life: a message in flight to a node that restarts is lost, as
    // on a connection that broke.
    const target = this.#endpoints.get(to);
    if (target === undefined) return;
    const r = this.#random;
    const f = this.faults;
    if (r.chance(f.loss)) {
      this.stats.lost++;
      return;
    }
    const copies = r.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = 0.1 + r.float() * 1.4;
      if (r.chance(f.reorder)) {
        this.stats.reordered++;
        delay += r.float() * 20;
      }
      if (r.chance(f.spike)) {
        this.stats.spiked++;
        delay += 100 + r.float() * 1400;
      }
      this.#scheduler.after(delay, target.actor, () => {
        // A link cut while the message flew drops it too.
        if (this.isCut(from, to)) {
          this.stats.cut++;
          return;
        }
        this.stats.delivered++;
        target.receive(bytes, from);
      });
    }
  }
}

export class SimTransport implements Transport {
  readonly id: NodeId;
  readonly actor: Actor;
  readonly maxMessageBytes = 4 * 1024 * 1024;
  readonly #network: SimNetwork;
  readonly #codec: WireCodec;
  #handler: MessageHandler | null = null;

  constructor(network: SimNetwork, id: NodeId, actor: Actor, clock: SimClock) {
    this.#network = network;
    this.id = id;
    this.actor = actor;
    this.#codec = new WireCodec({ now: () => clock.now() });
  }

  async start(handler: MessageHandler): Promise<void> {
    this.#handler = handler;
    this.#network.join(this);
  }

  send(message: WireMessage): void {
    if (this.#handler === null || !this.actor.alive) return;
    const bytes = this.#codec.encode(message);
    if (bytes.length > this.maxMessageBytes) {
      this.#codec.drop('too-large', `${bytes.length}-byte ${message.type} to ${message.to}`);
      return;
    }
    this.#codec.sent(message.type, bytes.length);
    this.#network.carry(message, bytes);
  }

  /** @internal */
  receive(bytes: Uint8Array, source: NodeId): void {
    if (this.#handler === null) return;
    const frame = this.#codec.decode(bytes, source);
    if (frame === null || frame.type === 'hello') return;
    if (frame.to !== this.id) {
      this.#codec.drop('misrouted', `a ${frame.type} for ${frame.to} arrived at ${this.id}`);
      return;
    }
    deliverSafely(this.#handler, frame, undefined);
  }

  async close(): Promise<void> {
    this.#handler = null;
    this.#network.leave(this);
  }

  bindCluster(identity: string): void {
    this.#codec.bindCluster(identity);
  }

  stats(): TransportStats {
    return this.#codec.stats();
  }
}
