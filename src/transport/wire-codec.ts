/**
 * @module
 * One transport's encoder and decoder: the codec, the cluster tag, the optional shared-secret
 * seal, and the counters. Every transport goes through it, so a frame is judged the same way
 * whichever socket it came on; a bad one is dropped, counted, and logged at most once per
 * interval per reason, so a flood of garbage cannot flood the log too.
 */
import { FrameCipher } from './cipher.js';
import {
  clusterTag,
  decodeMessage,
  encodeMessage,
  type Frame,
  formationTag,
  isDecodeFailure,
  UNBOUND_FORMATION,
} from './codec.js';
import {
  type DropReason,
  dropReasons,
  type TransportLogger,
  type TransportStats,
} from './transport.js';

export interface WireSecurity {
  /** Frames of another cluster are refused. Default `raftkit`. */
  readonly clusterId?: string;
  /** Shared secret (16 bytes or more): every frame is encrypted and authenticated with it. */
  readonly secret?: string | Uint8Array;
}

export interface WireCodecOptions extends WireSecurity {
  readonly logger?: TransportLogger;
  /** Milliseconds since some epoch, for spacing out log lines. */
  readonly now: () => number;
  /** Minimum milliseconds between two log lines about the same reason. Default 10 s. */
  readonly logIntervalMs?: number;
}

export const DEFAULT_CLUSTER_ID = 'raftkit';

export class WireCodec {
  readonly #tag: number;
  /** The formation tag of this node's cluster, once it knows its identity. */
  #formation = UNBOUND_FORMATION;
  readonly #cipher: FrameCipher | null;
  readonly #logger: TransportLogger | undefined;
  readonly #now: () => number;
  readonly #logIntervalMs: number;
  readonly #dropped = Object.fromEntries(dropReasons.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  readonly #lastLogged = new Map<DropReason, { at: number; count: number }>();
  messagesSent = 0;
  messagesReceived = 0;
  readonly #sentByType: Record<string, number> = {};
  readonly #receivedByType: Record<string, number> = {};
  bytesSent = 0;
  bytesReceived = 0;

  constructor(options: WireCodecOptions) {
    const clusterId = options.clusterId ?? DEFAULT_CLUSTER_ID;
    this.#tag = clusterTag(clusterId);
    this.#cipher = options.secret === undefined ? null : new FrameCipher(options.secret, clusterId);
    this.#logger = options.logger;
    this.#now = options.now;
    this.#logIntervalMs = options.logIntervalMs ?? 10_000;
  }

  /**
   * From now on, frames carry the tag of this cluster identity, and frames of another
   * identity are refused (counted and logged under `cluster`).
   */
  bindCluster(identity: string): void {
    this.#formation = formationTag(identity);
  }

  /** The bytes to send for `frame` (sealed when a secret is set). */
  encode(frame: Frame): Buffer {
    const body = encodeMessage(frame, this.#tag, this.#formation);
    return this.#cipher === null ? body : this.#cipher.seal(body);
  }

  /** Counts a message that left (not one that was dropped after encoding). */
  sent(type: Frame['type'], bytes: number): void {
    this.messagesSent++;
    this.#sentByType[type] = (this.#sentByType[type] ?? 0) + 1;
    this.bytesSent += bytes;
  }

  /** The frame in `bytes`, or null when it was dropped (and counted). */
  decode(bytes: Uint8Array, source: string): Frame | null {
    this.bytesReceived += bytes.byteLength;
    let body: Uint8Array | null = bytes;
    if (this.#cipher !== null) {
      body = this.#cipher.open(bytes);
      if (body === null) {
        this.drop('auth', `a frame from ${source} failed authentication`);
        return null;
      }
    }
    const frame = decodeMessage(body, this.#tag, this.#formation);
    if (isDecodeFailure(frame)) {
      this.drop(frame.reason, `from ${source}: ${frame.detail}`);
      return null;
    }
    this.messagesReceived++;
    this.#receivedByType[frame.type] = (this.#receivedByType[frame.type] ?? 0) + 1;
    return frame;
  }

  /** Counts a drop, and logs it unless this reason was logged less than an interval ago. */
  drop(reason: DropReason, detail: string): void {
    this.#dropped[reason]++;
    if (this.#logger === undefined) return;
    const now = this.#now();
    const last = this.#lastLogged.get(reason);
    if (last !== undefined && now - last.at < this.#logIntervalMs) {
      last.count++;
      return;
    }
    const suppressed = last?.count ?? 0;
    this.#lastLogged.set(reason, { at: now, count: 0 });
    this.#logger.warn(
      { reason, dropped: this.#dropped[reason], suppressed },
      `dropped a message: ${detail}`,
    );
  }

  stats(): TransportStats {
    return {
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      dropped: { ...this.#dropped },
      sentByType: { ...this.#sentByType },
      receivedByType: { ...this.#receivedByType },
    };
  }
}
