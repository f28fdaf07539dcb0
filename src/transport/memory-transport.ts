/**
 * @module
 * An in-process network for tests and examples: transports joined to one `MemoryNetwork`
 * reach each other by id. Every message is encoded and decoded exactly as on a socket (one
 * codec, one set of checks), and delivered on a later turn of the event loop, never inside
 * `send`. Links can be cut and restored to make partitions.
 */
import type { NodeId } from '../core/index.js';
import {
  deliverSafely,
  type MessageHandler,
  type Transport,
  type TransportLogger,
  type TransportStats,
} from './transport.js';
import type { WireMessage } from './wire.js';
import { WireCodec, type WireSecurity } from './wire-codec.js';

export class MemoryNetwork {
  readonly #members = new Map<NodeId, MemoryTransport>();
  /** Directed links that are cut, as `from\u0000to`. */
  readonly #cut = new Set<string>();

  /** A transport for `id` on this network (it joins when started). */
  transport(id: NodeId, options: MemoryTransportOptions = {}): MemoryTransport {
    return new MemoryTransport(this, id, options);
  }

  /** Cuts both directions between `id` and every other member. */
  isolate(id: NodeId): void {
    for (const other of this.#members.keys()) {
      if (other === id) continue;
      this.#cut.add(`${id}\u0000${other}`);
      this.#cut.add(`${other}\u0000${id}`);
    }
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /** @internal */
  join(t: MemoryTransport): void {
    this.#members.set(t.id, t);
  }

  /** @internal */
  leave(t: MemoryTransport): void {
    if (this.#members.get(t.id) === t) this.#members.delete(t.id);
  }

  /** @internal The live receiver of a message from `from` to `to`, if the link is up. */
  route(from: NodeId, to: NodeId): MemoryTransport | undefined {
    if (this.#cut.has(`${from}\u0000${to}`)) return undefined;
    return this.#members.get(to);
  }
}

export interface MemoryTransportOptions extends WireSecurity {
  /** Default 16 MiB. */
  readonly maxMessageBytes?: number;
  readonly logger?: TransportLogger;
}

export class MemoryTransport implements Transport {
  readonly id: NodeId;
  readonly maxMessageBytes: number;
  readonly #network: MemoryNetwork;
  readonly #codec: WireCodec;
  readonly #logger: TransportLogger | undefined;
  #handler: MessageHandler | null = null;

  constructor(network: MemoryNetwork, id: NodeId, options: MemoryTransportOptions) {
    this.#network = network;
    this.id = id;
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.#codec = new WireCodec({ ...options, now: () => performance.now() });
    this.#logger = options.logger;
  }

  async start(handler: MessageHandler): Promise<void> {
    this.#handler = handler;
    this.#network.join(this);
  }

  send(message: WireMessage): void {
    if (this.#handler === null) return;
    const bytes = this.#codec.encode(message);
    if (bytes.length > this.maxMessageBytes) {
      this.#codec.drop('too-large', `${bytes.length}-byte ${message.type} to ${message.to}`);
      return;
    }
    const peer = this.#network.route(this.id, message.to);
    if (peer === undefined) {
      this.#codec.drop('unreachable', `${message.to} is not reachable`);
      return;
    }
    this.#codec.sent(message.type, bytes.length);
    setImmediate(() => peer.receive(bytes, this.id));
  }

  /** @internal Bytes arriving from the network (or from a test that forges them). */
  receive(bytes: Uint8Array, source: string): void {
    const handler = this.#handler;
    if (handler === null) return;
    const frame = this.#codec.decode(bytes, source);
    if (frame === null) return;
    if (frame.type === 'hello') return;
    if (frame.to !== this.id) {
      this.#codec.drop('misrouted', `a ${frame.type} for ${frame.to} arrived at ${this.id}`);
      return;
    }
    deliverSafely(handler, frame, this.#logger);
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
