/**
 * @module
 * The core's only source of randomness (election timeouts) is injected, so one seed replays a
 * whole run. `seededRandom` is a small, fast, well-distributed generator (SplitMix32).
 */

export interface Random {
  /** A uniformly distributed integer in [0, bound). `bound` is a positive integer. */
  int(bound: number): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    int(bound: number): number {
      // Multiply-shift keeps the bias below bound / 2^32, negligible for tick counts.
      return Math.floor((next() / 0x1_0000_0000) * bound);
    },
  };
}
