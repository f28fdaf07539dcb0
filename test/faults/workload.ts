/**
 * The fault tests' client side: workers doing random get, put and compare-and-set on a few
 * keys through `RaftkitClient`, every operation recorded with its invocation and completion
 * (or its unknown outcome); and the durability check of what was acknowledged.
 */
import assert from 'node:assert/strict';
import type { HistoryOperation, KvInput, KvOutput } from '../../src/check/index.js';
import { decodeKvCommand } from '../../src/kv/commands.js';
import { type RaftkitClient, SessionExpiredError, UnavailableError } from '../../src/kv/index.js';
import { decodeCommand, TimeoutError } from '../../src/node/index.js';
import { FileStorage } from '../../src/storage/index.js';

export const KEYS = ['a', 'b', 'c'];

/** mulberry32: a small seeded generator. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Recorded extends HistoryOperation<KvInput, KvOutput> {
  /** The log index a write was acknowledged with. */
  readonly index?: number;
}

export class KvLoad {
  readonly history: Recorded[] = [];
  /** Errors no fault explains (anything but unavailable, timed out, unknown outcome). */
  readonly unexpected: string[] = [];
  /** Acknowledged writes. */
  written = 0;
  #running = true;
  #workers: Promise<void>[] = [];

  constructor(
    readonly clients: readonly RaftkitClient[],
    readonly random: () => number,
  ) {}

  start(): void {
    this.#workers = [...this.clients.keys()].map((c) => this.#worker(c));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  /** A get of every key by every client: those reads close the history. */
  async finalReads(): Promise<void> {
    for (const [c, client] of this.clients.entries()) {
      for (const key of KEYS) {
        const v = await this.run(client, c, { key, op: 'get' });
        assert.notEqual(v, undefined, `the final read of ${key} by client ${c} failed`);
      }
    }
  }

  acked(): Recorded[] {
    return this.history.filter((o) => o.index !== undefined);
  }

  async run(client: RaftkitClient, process: number, input: KvInput): Promise<KvOutput | undefined> {
    const call = performance.now();
    try {
      let output: KvOutput;
      let index: number | undefined;
      if (input.op === 'get') {
        output = (await client.get(input.key))?.value ?? null;
      } else if (input.op === 'put') {
        index = (await client.put(input.key, input.value)).index;
        output = null;
      } else if (input.op === 'cas') {
        const r = await client.cas(input.key, input.expected, input.value);
        output = r.succeeded;
        if (r.succeeded) index = r.index;
      } else {
        throw new Error(`no ${input.op} in this workload`);
      }
      this.history.push({
        process,
        input,
        call,
        ret: performance.now(),
        output,
        ...(index === undefined ? {} : { index }),
      });
      return output;
    } catch (e) {
      const outcomeUnknown =
        e instanceof TimeoutError || (e instanceof SessionExpiredError && e.outcomeUnknown);
      if (input.op !== 'get' && outcomeUnknown) this.history.push({ process, input, call });
      else if (!(e instanceof UnavailableError) && !(e instanceof TimeoutError)) {
        this.unexpected.push(`${input.op} ${input.key}: ${(e as Error).message}`);
      }
      return undefined;
    }
  }

  async #worker(c: number): Promise<void> {
    const client = this.clients[c] as RaftkitClient;
    const seen = new Map<string, string | null>();
    for (let n = 0; this.#running && n < 100_000; n++) {
      const key = KEYS[Math.floor(this.random() * KEYS.length)] as string;
      const roll = this.random();
      const value = `c${c}-${n}`;
      if (roll < 0.4) {
        const v = await this.run(client, c, { key, op: 'get' });
        if (typeof v === 'string' || v === null) seen.set(key, v);
      } else if (roll < 0.75) {
        if ((await this.run(client, c, { key, op: 'put', value })) === null) this.written++;
      } else {
        const expected = seen.get(key) ?? null;
        if ((await this.run(client, c, { key, op: 'cas', expected, value })) === true) {
          this.written++;
          seen.set(key, value);
        }
      }
    }
  }
}

/** Every acknowledged write is in the log of the node at `dir` (stopped), at its index. */
export async function assertDurable(
  name: string,
  dir: string,
  acked: readonly Recorded[],
): Promise<void> {
  const top = Math.max(...acked.map((o) => o.index as number));
  const storage = await FileStorage.open(dir, { readOnly: true });
  try {
    assert.ok(storage.hardState().commit >= top, `${name} committed ${top}`);
    for (const o of acked) {
      const [entry] = storage.entries(o.index as number, (o.index as number) + 1, Infinity);
      const envelope = decodeCommand(entry?.data ?? new Uint8Array());
      assert.ok(typeof envelope !== 'string', `${name}: entry ${o.index} is a command`);
      const command = decodeKvCommand(envelope.payload, o.index as number);
      const input = o.input as Extract<KvInput, { value: unknown }>;
      assert.deepEqual(
        [command.op === 'register' ? null : command.key, 'value' in command ? command.value : null],
        [input.key, input.value],
        `${name}, entry ${o.index}`,
      );
    }
  } finally {
    await storage.close();
  }
}
