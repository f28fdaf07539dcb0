/**
 * @module
 * The default transport: TCP (or TLS with mutual authentication), length-prefixed frames.
 *
 * One connection per pair of peers, used both ways: the node with the smaller id dials, the
 * other accepts, and the dialler's first frame is a hello that names it. A lost connection is
 * dialled again with jittered exponential backoff. Messages sent in one turn of the event loop
 * leave in one corked write. A slow peer's socket buffer is bounded: beyond `maxQueueBytes`,
 * messages to it are dropped (Raft resends what matters) rather than piling up in memory.
 *
 * An inbound connection must say hello first, with this cluster's tag, to this node, from a
 * known peer; anything else is counted and the connection closed. Later garbage in the stream
 * is dropped frame by frame; a length prefix beyond the limit closes the connection, since the
 * stream cannot be resynchronised.
 */
import net from 'node:net';
import tls from 'node:tls';
import { InvalidConfigError, type NodeId } from '../core/index.js';
import { checkEndpoint, parseAddress } from './address.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { Frame } from './codec.js';
import { FrameReader, FrameTooLargeError, lengthPrefix } from './frame-reader.js';
import {
  deliverSafely,
  type MessageHandler,
  type Transport,
  type TransportLogger,
  type TransportStats,
} from './transport.js';
import type { WireMessage } from './wire.js';
import { WireCodec, type WireSecurity } from './wire-codec.js';

export interface TlsOptions {
  /** This node's certificate (PEM). */
  readonly cert: string | Buffer;
  /** Its private key (PEM). */
  readonly key: string | Buffer;
  /** The authority that signed every member's certificate (PEM). */
  readonly ca: string | Buffer;
}

export interface TcpTransportOptions extends WireSecurity {
  readonly id: NodeId;
  /** Where to listen, `host:port`. */
  readonly listen: string;
  /** Every other member: id to `host:port`. */
  readonly peers: Readonly<Record<NodeId, string>>;
  /** TCP over TLS, each side checking the other's certificate against `ca`. */
  readonly tls?: TlsOptions;
  /** Largest frame body, in bytes. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Bytes waiting for one slow peer before messages to it are dropped. Default 64 MiB. */
  readonly maxQueueBytes?: number;
  readonly backoff?: BackoffOptions;
  readonly logger?: TransportLogger;
  /**
   * Accept a hello from a node that is not among `peers` (cluster tag and security still
   * checked): a node that joins a running cluster knows no member until the leader, which
   * does know it, connects. Default false.
   */
  readonly acceptUnknownPeers?: boolean;
}

const HELLO_TIMEOUT_MS = 5000;
const MAX_SOCKETS_PER_PEER = 4;

function forget(link: Link, socket: net.Socket): void {
  const at = link.sockets.indexOf(socket);
  if (at >= 0) link.sockets.splice(at, 1);
}

interface Link {
  readonly id: NodeId;
  /** Where the peer listens; empty for a peer known only by the connection it opened. */
  host: string;
  port: number;
  /**
   * This side dials: its id is the smaller, or the peer was added while running (it may not
   * know this node yet, so it cannot be the one to dial).
   */
  dials: boolean;
  /** Dropped from the peers: no more dialling, its connections closed. */
  removed: boolean;
  /**
   * Open connections that said they are this peer, newest last; messages go on the newest.
   * An older one is kept until it closes: a newcomer claiming the peer's id (a restarted
   * peer, or a forger when no secret is set) does not cut the link that works.
   */
  readonly sockets: net.Socket[];
  readonly backoff: Backoff;
  retry: NodeJS.Timeout | null;
}

export class TcpTransport implements Transport {
  readonly id: NodeId;
  readonly maxMessageBytes: number;
  readonly #options: TcpTransportOptions;
  readonly #codec: WireCodec;
  readonly #links = new Map<NodeId, Link>();
  readonly #maxQueueBytes: number;
  readonly #anonymous = new Set<net.Socket>();
  /** Sockets corked in this turn of the event loop. */
  readonly #corked = new WeakSet<net.Socket>();
  #server: net.Server | null = null;
  #handler: MessageHandler | null = null;
  #closed = false;
  #listening: { host: string; port: number } | null = null;

  constructor(options: TcpTransportOptions) {
    checkEndpoint(options.id, options.listen);
    this.id = options.id;
    this.#options = options;
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.#maxQueueBytes = options.maxQueueBytes ?? 64 * 1024 * 1024;
    if (
      !Number.isSafeInteger(this.maxMessageBytes) ||
      this.maxMessageBytes < 4096 ||
      this.maxMessageBytes > 2 ** 31
    ) {
      throw new InvalidConfigError(
        `maxMessageBytes ${this.maxMessageBytes}: expected 4096 to 2^31`,
      );
    }
    this.#codec = new WireCodec({ ...options, now: () => performance.now() });
    for (const [id, address] of Object.entries(options.peers)) {
      if (id === options.id) continue;
      const { host, port } = parseAddress(address);
      this.#links.set(id, this.#newLink(id, host, port, options.id < id));
    }
  }

  #newLink(id: NodeId, host: string, port: number, dials: boolean): Link {
    const backoff = new Backoff(this.#options.backoff);
    return { id, host, port, dials, removed: false, sockets: [], backoff, retry: null };
  }

  /**
   * The members changed: dial the new peers (whichever id is smaller: they may not know this
   * node yet), follow a peer that moved, and close the links of those no longer listed.
   */
  updatePeers(peers: Readonly<Record<NodeId, string>>): void {
    if (this.#closed) return;
    for (const [id, address] of Object.entries(peers)) {
      if (id === this.id) continue;
      let host: string;
      let port: number;
      try {
        ({ host, port } = parseAddress(address));
      } catch (e) {
        this.#options.logger?.warn({ peer: id, address }, `unusable address: ${String(e)}`);
        continue;
      }
      const link = this.#links.get(id);
      if (link === undefined) {
        const added = this.#newLink(id, host, port, true);
        this.#links.set(id, added);
        if (this.#server !== null) this.#dial(added);
      } else if (link.host !== host || link.port !== port) {
        const known = link.host !== '';
        link.host = host;
        link.port = port;
        link.dials = true;
        // A peer that moved is dialled at its new address; one that was known only by the
        // connection it opened keeps that connection, and is dialled when it is lost.
        if (known) for (const socket of link.sockets.splice(0)) socket.destroy();
        if (link.sockets.length === 0 && link.retry === null && this.#server !== null) {
          this.#dial(link);
        }
      }
    }
    for (const [id, link] of this.#links) {
      if (Object.hasOwn(peers, id)) continue;
      link.removed = true;
      if (link.retry !== null) clearTimeout(link.retry);
      link.retry = null;
      // Ended, not destroyed: what was just written to it (the commit of its removal) leaves.
      for (const socket of link.sockets.splice(0)) {
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      this.#links.delete(id);
    }
  }

  /** The address actually bound (its port, when `listen` asked for port 0). */
  get address(): { host: string; port: number } {
    if (this.#listening === null) throw new Error('the transport is not listening');
    return this.#listening;
  }

  async start(handler: MessageHandler): Promise<void> {
    this.#handler = handler;
    const { host, port } = parseAddress(this.#options.listen);
    const server =
      this.#options.tls === undefined
        ? net.createServer((s) => this.#accept(s))
        : tls.createServer(
            { ...this.#options.tls, requestCert: true, rejectUnauthorized: true },
            (s) => this.#accept(s),
          );
    if (server instanceof tls.Server) {
      server.on('tlsClientError', (e) =>
        this.#codec.drop('auth', `TLS handshake refused: ${e.message}`),
      );
    }
    server.on('error', (e) => this.#options.logger?.warn({ err: e }, 'server socket error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const bound = server.address() as net.AddressInfo;
    this.#listening = { host: bound.address, port: bound.port };
    for (const link of this.#links.values()) if (link.dials) this.#dial(link);
  }

  send(message: WireMessage): void {
    if (this.#closed) return;
    const link = this.#links.get(message.to);
    if (link === undefined) {
      this.#codec.drop('unknown-peer', `no address for ${message.to}`);
      return;
    }
    const socket = link.sockets.at(-1);
    if (socket === undefined) {
      this.#codec.drop('unreachable', `no connection to ${message.to}`);
      return;
    }
    const body = this.#codec.encode(message);
    if (body.length > this.maxMessageBytes) {
      this.#codec.drop('too-large', `${body.length}-byte ${message.type} to ${message.to}`);
      return;
    }
    if (socket.writableLength + body.length > this.#maxQueueBytes) {
      this.#codec.drop(
        'backpressure',
        `${socket.writableLength} bytes already queued for ${message.to}`,
      );
      return;
    }
    this.#write(socket, message.type, body);
  }

  /** Writes one frame; everything written in this turn of the loop leaves in one syscall. */
  #write(socket: net.Socket, type: Frame['type'], body: Buffer): void {
    if (!this.#corked.has(socket)) {
      this.#corked.add(socket);
      socket.cork();
      process.nextTick(() => {
        this.#corked.delete(socket);
        socket.uncork();
      });
    }
    socket.write(lengthPrefix(body));
    socket.write(body);
    this.#codec.sent(type, body.length);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler = null;
    for (const link of this.#links.values()) {
      if (link.retry !== null) clearTimeout(link.retry);
      for (const socket of link.sockets.splice(0)) socket.destroy();
    }
    for (const s of this.#anonymous) s.destroy();
    this.#anonymous.clear();
    const server = this.#server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  bindCluster(identity: string): void {
    this.#codec.bindCluster(identity);
  }

  stats(): TransportStats & { readonly connections: number } {
    let connections = 0;
    for (const link of this.#links.values()) connections += link.sockets.length;
    return { ...this.#codec.stats(), connections };
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  #dial(link: Link): void {
    if (this.#closed || link.removed || link.host === '') return;
    link.retry = null;
    const options = { host: link.host, port: link.port };
    const socket =
      this.#options.tls === undefined
        ? net.connect(options)
        : tls.connect({
            ...options,
            ...this.#options.tls,
            servername: isIp(link.host) ? undefined : link.host,
          });
    const ready = this.#options.tls === undefined ? 'connect' : 'secureConnect';
    socket.setTimeout(HELLO_TIMEOUT_MS, () => socket.destroy(new Error('connect timed out')));
    socket.once(ready, () => {
      socket.setTimeout(0);
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.#adopt(link, socket);
      link.backoff.reset();
      // The hello goes first: it tells the other side which peer this connection is.
      this.#write(
        socket,
        'hello',
        this.#codec.encode({ type: 'hello', from: this.id, to: link.id }),
      );
    });
    socket.on('error', (e) => {
      if (this.#options.tls !== undefined && /certificate|SSL|TLS|alert/i.test(e.message)) {
        this.#codec.drop('auth', `TLS with ${link.id} failed: ${e.message}`);
      }
    });
    socket.on('close', () => {
      forget(link, socket);
      this.#redialIfLost(link);
    });
    this.#receive(socket, link);
  }

  /** An inbound connection: anonymous until its hello names a peer. */
  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#anonymous.add(socket);
    socket.setTimeout(HELLO_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#anonymous.delete(socket);
      for (const link of this.#links.values()) {
        if (!link.sockets.includes(socket)) continue;
        forget(link, socket);
        // A link this side dials may have lived on the peer's connection alone (a peer that
        // joined and was connected to first): lost, it is dialled like any other.
        if (link.dials) this.#redialIfLost(link);
      }
    });
    this.#receive(socket, null);
  }

  /** Dials `link` again, after a backoff, once it has no connection left. */
  #redialIfLost(link: Link): void {
    if (this.#closed || link.removed || link.retry !== null || link.sockets.length > 0) return;
    link.retry = setTimeout(() => this.#dial(link), link.backoff.next());
  }

  #adopt(link: Link, socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    link.sockets.push(socket);
    // Bounded: the oldest connections claiming this peer go first.
    while (link.sockets.length > MAX_SOCKETS_PER_PEER) link.sockets.shift()?.destroy();
  }

  #receive(socket: net.Socket, dialled: Link | null): void {
    const reader = new FrameReader(this.maxMessageBytes + 64);
    const source = `${socket.remoteAddress}:${socket.remotePort}`;
    let peer: Link | null = dialled;
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = reader.push(chunk);
      } catch (e) {
        if (!(e instanceof FrameTooLargeError)) throw e;
        this.#codec.drop('oversized', `from ${peer?.id ?? source}: ${e.message}`);
        socket.destroy();
        return;
      }
      for (const body of bodies) {
        if (socket.destroyed) return;
        const frame = this.#codec.decode(body, peer?.id ?? source);
        if (frame === null) {
          // Before a valid hello there is no peer to keep talking to.
          if (peer === null) socket.destroy();
          continue;
        }
        if (peer === null) {
          peer = this.#identify(frame, socket, source);
          continue;
        }
        this.#deliver(frame, peer);
      }
    });
  }

  /** The first frame of an inbound connection: a hello from a known peer, to this node. */
  #identify(frame: Frame, socket: net.Socket, source: string): Link | null {
    const hello = frame.type === 'hello' && frame.to === this.id;
    let link = hello ? this.#links.get(frame.from) : undefined;
    if (link === undefined && hello && frame.from !== this.id && this.#options.acceptUnknownPeers) {
      // Known by this connection only, until the configuration says where it listens.
      link = this.#newLink(frame.from, '', 0, false);
      this.#links.set(frame.from, link);
    }
    if (link === undefined) {
      const what =
        frame.type === 'hello'
          ? `a hello from ${frame.from} to ${frame.to}`
          : `a ${frame.type} before any hello`;
      this.#codec.drop('unknown-peer', `${source} sent ${what}`);
      socket.destroy();
      return null;
    }
    socket.setTimeout(0);
    this.#anonymous.delete(socket);
    this.#adopt(link, socket);
    return link;
  }

  #deliver(frame: Frame, peer: Link): void {
    if (frame.type === 'hello') return;
    if (frame.from !== peer.id || frame.to !== this.id) {
      this.#codec.drop(
        'misrouted',
        `a ${frame.type} from ${frame.from} to ${frame.to} on ${peer.id}'s connection`,
      );
      return;
    }
    deliverSafely(this.#handler, frame, this.#options.logger);
  }
}

function isIp(host: string): boolean {
  return net.isIP(host) !== 0;
}
