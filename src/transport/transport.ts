/**
 * @module
 * What the node layer needs from a network: send a message to a peer by id, best effort, and
 * be handed every valid message that arrives. Raft tolerates loss, duplication and reordering,
 * so `send` never blocks and never throws: a message that cannot go is dropped and counted.
 */
import type { NodeId } from '../core/index.js';
import type { DecodeReason } from './codec.js';
import type { WireMessage } from './wire.js';

export type DropReason =
  | DecodeReason
  /** A length prefix beyond the frame limit; the stream is closed. */
  | 'oversized'
  /** A frame that fails authentication (wrong shared secret, altered bytes, bad TLS peer). */
  | 'auth'
  /** From or to a node this transport does not know. */
  | 'unknown-peer'
  /** A message whose sender is not the peer of the connection it came on. */
  | 'misrouted'
  /** The peer is slow: its outgoing queue is full. */
  | 'backpressure'
  /** No connection to the peer (it is down, or not yet connected). */
  | 'unreachable'
  /** A message larger than the transport can carry. */
  | 'too-large';

export const dropReasons: readonly DropReason[] = [
  'truncated',
  'version',
  'cluster',
  'invalid',
  'oversized',
  'auth',
  'unknown-peer',
  'misrouted',
  'backpressure',
  'unreachable',
  'too-large',
];

export interface TransportStats {
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Messages that left, by wire type (`append`, `vote`, `hello`, ...). */
  readonly sentByType: Readonly<Record<string, number>>;
  /** Messages that decoded and validated, by wire type. */
  readonly receivedByType: Readonly<Record<string, number>>;
}

/** pino-compatible: `logger.warn({ ...fields }, 'message')`. */
export interface TransportLogger {
  warn(fields: object, message: string): void;
}

export type MessageHandler = (message: WireMessage) => void;

export interface Transport {
  /** This node's id: the `from` of what it sends, the `to` of what it accepts. */
  readonly id: NodeId;
  /**
   * Largest message body this transport carries, in bytes. The node refuses a proposal whose
   * entry could not fit (see `MESSAGE_OVERHEAD_BYTES`) rather than lose it later.
   */
  readonly maxMessageBytes: number;
  /** Starts listening; `handler` receives every message that decodes and validates. */
  start(handler: MessageHandler): Promise<void>;
  /** Queues a message for `message.to`. Never throws; what cannot go is dropped and counted. */
  send(message: WireMessage): void;
  /** Closes every socket; pending messages are dropped. Idempotent. */
  close(): Promise<void>;
  /**
   * The identity this node's cluster drew when it first formed: from now on frames carry it,
   * and a peer of another identity is refused, counted (`cluster`) and logged. A transport
   * without it cannot tell two clusters of the same name apart.
   */
  bindCluster?(identity: string): void;
  /**
   * The members changed: `peers` (id to address, this node left out) is everyone to talk to
   * now. New peers are reached, dropped ones disconnected. A transport that routes by id
   * alone (in memory, the simulator's) needs none.
   */
  updatePeers?(peers: Readonly<Record<NodeId, string>>): void;
  stats(): TransportStats;
}

/**
 * Bytes a message spends besides its entries' data: header, two ids of up to 255 bytes, the
 * append's fields, one entry's framing, and the shared-secret seal.
 */
export const MESSAGE_OVERHEAD_BYTES = 1024;

/** Hands a message up; whatever the handler throws is logged, never thrown into a socket. */
export function deliverSafely(
  handler: MessageHandler | null,
  message: WireMessage,
  logger: TransportLogger | undefined,
): void {
  try {
    handler?.(message);
  } catch (e) {
    logger?.warn({ err: e, type: message.type, from: message.from }, 'the message handler threw');
  }
}
