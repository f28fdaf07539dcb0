/**
 * @module
 * A transport that can be cut off from every peer and joined again, for the dashboard's
 * "cut" control on a local `raftkit cluster`: while cut, nothing leaves and whatever arrives
 * is dropped, as if the node's network were unplugged (its sockets stay up, so a heal is
 * immediate). Dropped messages are counted apart.
 */
import type { MessageHandler, Transport, TransportStats } from './transport.js';
import type { WireMessage } from './wire.js';

export class CuttableTransport implements Transport {
  readonly #inner: Transport;
  #cut = false;
  #dropped = 0;

  constructor(inner: Transport) {
    this.#inner = inner;
    if (inner.bindCluster !== undefined) {
      this.bindCluster = (identity) => inner.bindCluster?.(identity);
    }
    if (inner.updatePeers !== undefined) {
      this.updatePeers = (peers) => inner.updatePeers?.(peers);
    }
  }

  readonly bindCluster?: (identity: string) => void;
  readonly updatePeers?: (peers: Readonly<Record<string, string>>) => void;

  get id(): string {
    return this.#inner.id;
  }

  get maxMessageBytes(): number {
    return this.#inner.maxMessageBytes;
  }

  /** Whether the node is cut off from its peers. */
  get cut(): boolean {
    return this.#cut;
  }

  set cut(on: boolean) {
    this.#cut = on;
  }

  /** Messages dropped while cut, both ways. */
  get dropped(): number {
    return this.#dropped;
  }

  start(handler: MessageHandler): Promise<void> {
    return this.#inner.start((m) => {
      if (this.#cut) this.#dropped++;
      else handler(m);
    });
  }

  send(message: WireMessage): void {
    if (this.#cut) this.#dropped++;
    else this.#inner.send(message);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  stats(): TransportStats {
    return this.#inner.stats();
  }
}
