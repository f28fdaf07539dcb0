/**
 * @module
 * The clients of a verify run: workers doing random get, put, delete and compare-and-set on a
 * few keys through `RaftkitClient`, in a closed loop or at a total rate, every operation
 * recorded with its invocation and its completion, its failure (it certainly did nothing) or
 * its unknown outcome (a write that may or may not have happened).
 */
import type { HistoryOperation, KvInput, KvOutput } from '../check/index.js';
import { seededRandom } from '../core/index.js';
import { type RaftkitClient, SessionExpiredError, UnavailableError } from '../kv/index.js';
import { TimeoutError } from '../node/index.js';

/** Uniform numbers in [0, 1) from the core's seeded generator: a seed repeats the choices. */
export function seeded(seed: number): () => number {
  const random = seededRandom(seed);
  return () => random.int(0x1_0000_0000) / 0x1_0000_0000;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type Outcome = 'ok' | 'fail' | 'unknown';

export interface Recorded extends HistoryOperation<KvInput, KvOutput> {
  /** The log index a write that changed something was acknowledged with. */
  readonly index?: number;
  readonly outcome: Outcome;
  /** Why it failed or is unknown. */
  readonly error?: string;
}

export interface LoadOptions {
  readonly keys: readonly string[];
  /** Total operations a second over all clients; closed loop (as fast as answered) if absent. */
  readonly rate?: number;
  /** Milliseconds since the run began (every recorded time is on this scale). */
  readonly now: () => number;
  /** Per client, the share of its operations that are gets (default 0.35 each). */
  readonly readShares?: readonly number[];
}

export class KvLoad {
  /** Every operation, failed ones too. */
  readonly ops: Recorded[] = [];
  /** Errors no fault explains (anything but unavailable, timed out, unknown outcome). */
  readonly unexpected: string[] = [];
  /** Acknowledged writes that changed something. */
  written = 0;
  #running = true;
  #workers: Promise<void>[] = [];

  constructor(
    readonly clients: readonly RaftkitClient[],
    readonly random: () => number,
    readonly options: LoadOptions,
  ) {}

  start(): void {
    this.#running = true;
    this.#workers = [...this.clients.keys()].map((c) => this.#worker(c));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  /** What the checker gets: answered operations and writes of unknown outcome. */
  history(): Recorded[] {
    return this.ops.filter(
      (o) => o.outcome === 'ok' || (o.outcome === 'unknown' && o.input.op !== 'get'),
    );
  }

  acked(): Recorded[] {
    return this.ops.filter((o) => o.index !== undefined);
  }

  /**
   * A get of every key through each reader in turn (default: each client), retried until
   * answered or until `deadlineMs` has passed: those reads close the history. Returns the
   * reads that never got an answer.
   */
  async finalReads(
    deadlineMs: number,
    readers: readonly {
      readonly client: RaftkitClient;
      readonly process: number;
      readonly name: string;
    }[] = this.clients.map((client, c) => ({ client, process: c, name: `client ${c}` })),
  ): Promise<string[]> {
    const missing: string[] = [];
    const until = this.options.now() + deadlineMs;
    for (const { client, process, name } of readers) {
      for (const key of this.options.keys) {
        let v: KvOutput | undefined;
        while (v === undefined && this.options.now() < until) {
          v = await this.run(client, process, { key, op: 'get' });
          if (v === undefined) await sleep(100);
        }
        if (v === undefined) missing.push(`${name} did not answer a read of ${key}`);
      }
    }
    return missing;
  }

  async run(client: RaftkitClient, process: number, input: KvInput): Promise<KvOutput | undefined> {
    const call = this.options.now();
    try {
      let output: KvOutput;
      let index: number | undefined;
      switch (input.op) {
        case 'get':
          output = (await client.get(input.key))?.value ?? null;
          break;
        case 'put':
          index = (await client.put(input.key, input.value)).index;
          output = null;
          break;
        case 'del': {
          const r = await client.delete(input.key);
          output = r.deleted;
          index = r.index;
          break;
        }
        case 'cas': {
          const r = await client.cas(input.key, input.expected, input.value);
          output = r.succeeded;
          if (r.succeeded) index = r.index;
          break;
        }
      }
      this.ops.push({
        process,
        input,
        call,
        ret: this.options.now(),
        output,
        outcome: 'ok',
        ...(index === undefined ? {} : { index }),
      });
      if (index !== undefined) this.written++;
      return output;
    } catch (e) {
      const error = (e as Error).message;
      const unknown =
        e instanceof TimeoutError || (e instanceof SessionExpiredError && e.outcomeUnknown);
      const expected = unknown || e instanceof UnavailableError || e instanceof TimeoutError;
      if (!expected) this.unexpected.push(`${input.op} ${input.key}: ${error}`);
      // A read that failed tells nothing; a write of unknown outcome may have happened.
      this.ops.push({
        process,
        input,
        call,
        ...(unknown && input.op !== 'get' ? {} : { ret: this.options.now() }),
        outcome: unknown && input.op !== 'get' ? 'unknown' : 'fail',
        error,
      });
      return undefined;
    }
  }

  async #worker(c: number): Promise<void> {
    const client = this.clients[c] as RaftkitClient;
    const { keys, rate } = this.options;
    // Each client's share of the rate, as a gap between the starts of its operations.
    const gapMs = rate === undefined ? 0 : (1000 * this.clients.length) / rate;
    const seen = new Map<string, string | null>();
    for (let n = 0; this.#running && n < 10_000_000; n++) {
      const began = this.options.now();
      const key = keys[Math.floor(this.random() * keys.length)] as string;
      const roll = this.random();
      const value = `c${c}-${n}`;
      // Gets, then the writes in the proportions put 30 : delete 10 : compare-and-set 25.
      const reads = this.options.readShares?.[c] ?? 0.35;
      const write = (roll - reads) / (1 - reads);
      if (roll < reads) {
        const v = await this.run(client, c, { key, op: 'get' });
        if (typeof v === 'string' || v === null) seen.set(key, v);
      } else if (write < 30 / 65) {
        await this.run(client, c, { key, op: 'put', value });
      } else if (write < 40 / 65) {
        if ((await this.run(client, c, { key, op: 'del' })) !== undefined) seen.set(key, null);
      } else {
        // Mostly the value last seen (so that some swaps succeed), sometimes absent.
        const expected = this.random() < 0.2 ? null : (seen.get(key) ?? null);
        const next = this.random() < 0.1 ? null : value;
        const r = await this.run(client, c, { key, op: 'cas', expected, value: next });
        if (r === true) seen.set(key, next);
      }
      const wait = gapMs - (this.options.now() - began);
      if (wait > 0 && this.#running) await sleep(wait);
    }
  }
}
