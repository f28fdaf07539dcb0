/**
 * @module
 * The UDP transport, as raftos had: one datagram per message, for clusters of small entries.
 * A message that cannot fit a datagram is never sent; the node refuses a proposal whose entry
 * could not fit (`maxMessageBytes` is what a datagram holds), so nothing is silently lost.
 * Datagrams from unknown senders, of another cluster or sealed with another secret are
 * counted and dropped.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { NodeId } from '../core/index.js';
import { checkEndpoint, parseAddress } from './address.js';
import { SEAL_OVERHEAD_BYTES } from './cipher.js';
import {
  deliverSafely,
  type MessageHandler,
  type Transport,
  type TransportLogger,
  type TransportStats,
} from './transport.js';
import type { WireMessage } from './wire.js';
import { WireCodec, type WireSecurity } from './wire-codec.js';

/** The largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BYTES = 65_507;

export interface UdpTransportOptions extends WireSecurity {
  readonly id: NodeId;
  readonly listen: string;
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly logger?: TransportLogger;
  /**
   * Accept a datagram from a node that is not among `peers`, and answer it where it came
   * from, until the configuration says where it listens (a node joining a running cluster).
   */
  readonly acceptUnknownPeers?: boolean;
}

export class UdpTransport implements Transport {
  readonly id: NodeId;
  readonly maxMessageBytes: number;
  readonly #options: UdpTransportOptions;
  readonly #codec: WireCodec;
  readonly #peers = new Map<NodeId, { host: string; port: number }>();
  #socket: dgram.Socket | null = null;
  #handler: MessageHandler | null = null;
  #listening: { host: string; port: number } | null = null;

  constructor(options: UdpTransportOptions) {
    checkEndpoint(options.id, options.listen);
    this.id = options.id;
    this.#options = options;
    // What a datagram holds once sealed; the seal's bytes are not the message's.
    this.maxMessageBytes =
      MAX_DATAGRAM_BYTES - (options.secret === undefined ? 0 : SEAL_OVERHEAD_BYTES);
    this.#codec = new WireCodec({ ...options, now: () => performance.now() });
    for (const [id, address] of Object.entries(options.peers)) {
      if (id !== options.id) this.#peers.set(id, parseAddress(address));
    }
  }

  get address(): { host: string; port: number } {
    if (this.#listening === null) throw new Error('the transport is not listening');
    return this.#listening;
  }

  /** The members changed: `peers` is everyone to send to now. */
  updatePeers(peers: Readonly<Record<NodeId, string>>): void {
    const next = new Map<NodeId, { host: string; port: number }>();
    for (const [id, address] of Object.entries(peers)) {
      if (id === this.id) continue;
      try {
        next.set(id, parseAddress(address));
      } catch (e) {
        this.#options.logger?.warn({ peer: id, address }, `unusable address: ${String(e)}`);
      }
    }
    this.#peers.clear();
    for (const [id, peer] of next) this.#peers.set(id, peer);
  }

  async start(handler: MessageHandler): Promise<void> {
    const { host, port } = parseAddress(this.#options.listen);
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    this.#handler = handler;
    socket.on('message', (msg, rinfo) =>
      this.#receive(msg, `${rinfo.address}:${rinfo.port}`, rinfo),
    );
    socket.on('error', (e) => this.#options.logger?.warn({ err: e }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.#socket = socket;
    const bound = socket.address();
    this.#listening = { host: bound.address, port: bound.port };
  }

  send(message: WireMessage): void {
    const socket = this.#socket;
    if (socket === null) return;
    const peer = this.#peers.get(message.to);
    if (peer === undefined) {
      this.#codec.drop('unknown-peer', `no address for ${message.to}`);
      return;
    }
    const datagram = this.#codec.encode(message);
    if (datagram.length > MAX_DATAGRAM_BYTES) {
      this.#codec.drop(
        'too-large',
        `${datagram.length}-byte ${message.type} cannot fit a datagram`,
      );
      return;
    }
    socket.send(datagram, peer.port, peer.host, (e) => {
      if (e) this.#codec.drop('unreachable', `to ${message.to}: ${e.message}`);
      else this.#codec.sent(message.type, datagram.length);
    });
  }

  #receive(datagram: Buffer, source: string, rinfo: { address: string; port: number }): void {
    const frame = this.#codec.decode(datagram, source);
    if (frame === null || frame.type === 'hello') return;
    if (frame.to !== this.id) {
      this.#codec.drop('misrouted', `a ${frame.type} for ${frame.to} from ${source}`);
      return;
    }
    if (!this.#peers.has(frame.from)) {
      if (this.#options.acceptUnknownPeers !== true || frame.from === this.id) {
        this.#codec.drop('unknown-peer', `a ${frame.type} from ${frame.from} at ${source}`);
        return;
      }
      this.#peers.set(frame.from, { host: rinfo.address, port: rinfo.port });
    }
    deliverSafely(this.#handler, frame, this.#options.logger);
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    this.#handler = null;
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  bindCluster(identity: string): void {
    this.#codec.bindCluster(identity);
  }

  stats(): TransportStats {
    return this.#codec.stats();
  }
}
