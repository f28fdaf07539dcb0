/**
 * @module
 * The real clock and the real source of entropy: the one file of the node layer that touches
 * timers, the system clock and system randomness.
 */
import { randomInt } from 'node:crypto';
import { type Random, seededRandom } from '../core/index.js';
import type { Clock, Timer } from './clock.js';

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms: number, fn: () => void): Timer {
    const handle = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(handle) };
  },
  defer: (fn) => void setImmediate(fn),
  wallNow: () => Date.now(),
};

/** A generator seeded from the system: election timeouts differ between nodes and runs. */
export function systemRandom(): Random {
  return seededRandom(randomInt(0, 2 ** 32));
}
