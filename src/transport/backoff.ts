/**
 * @module
 * Reconnection delays: doubling from `minMs` to `maxMs`, each drawn at random from its upper
 * half, so that peers that lost each other at the same moment do not retry in lockstep.
 */

export interface BackoffOptions {
  /** Default 50 ms. */
  readonly minMs?: number;
  /** Default 1000 ms: a restarted peer is found again within an election timeout. */
  readonly maxMs?: number;
}

export class Backoff {
  readonly #min: number;
  readonly #max: number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#min = options.minMs ?? 50;
    this.#max = Math.max(options.maxMs ?? 1000, this.#min);
  }

  next(random: () => number = Math.random): number {
    const ceiling = Math.min(this.#max, this.#min * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
