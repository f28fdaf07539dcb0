/**
 * @module
 * The key-value workload: clients doing get, put, delete and compare-and-set on a few keys,
 * as real clients do. Each registers a session and numbers its writes, so a retry of a write
 * whose answer was lost applies once; each attempt has a timeout, a failed one moves to the
 * leader named in the error or another node, and an operation that found no answer before its
 * deadline is recorded with an unknown outcome (it may still take effect). Reads are
 * linearizable reads (ReadIndex) on whichever node the client talks to. The history is
 * checked for linearizability per key.
 */
import {
  checkLinearizable,
  type HistoryOperation,
  type KvInput,
  type KvOutput,
  kvModel,
} from '../check/index.js';
import { NotLeaderError } from '../core/index.js';
import {
  encodeKvCommand,
  type KvCommand,
  type KvResult,
  KvStore,
  type SessionRef,
} from '../kv/index.js';
import type { SimNode } from './cluster.js';
import type { SimRandom } from './random.js';
import { Actor } from './scheduler.js';
import {
  nextTarget,
  type Workload,
  type WorkloadContext,
  type WorkloadVerdict,
} from './workload.js';

export interface KvWorkloadOptions {
  /** Default 5. */
  readonly clients?: number;
  /** Default 3: few keys, so operations contend. */
  readonly keys?: number;
  /** Most milliseconds a client waits between operations; default 40. */
  readonly thinkMs?: number;
  /** Milliseconds one attempt waits for its answer; default 1000. */
  readonly attemptTimeoutMs?: number;
  /** Milliseconds an operation is retried before its outcome is left unknown; default 5000. */
  readonly operationTimeoutMs?: number;
}

type Op = HistoryOperation<KvInput, KvOutput>;
type Attempt<T> = { ok: true; value: T } | { ok: false };

export class KvWorkload implements Workload<KvStore> {
  readonly history: Op[] = [];
  readonly #clients: number;
  readonly #keys: string[];
  readonly #thinkMs: number;
  readonly #attemptMs: number;
  readonly #operationMs: number;
  readonly #counts = { operations: 0, unknown: 0, failedReads: 0, attempts: 0, sessions: 0 };

  constructor(options: KvWorkloadOptions = {}) {
    this.#clients = options.clients ?? 5;
    this.#keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
    this.#thinkMs = options.thinkMs ?? 40;
    this.#attemptMs = options.attemptTimeoutMs ?? 1000;
    this.#operationMs = options.operationTimeoutMs ?? 5000;
  }

  createStateMachine(): KvStore {
    return new KvStore();
  }

  async run(context: WorkloadContext<KvStore>): Promise<void> {
    const clients = Array.from({ length: this.#clients }, (_, c) =>
      new KvClient(this, context, c, context.random.fork(`client/${c}`)).run(),
    );
    await Promise.all(clients);
  }

  /** The store's keys in order, its applied index and its sessions (whose order is the LRU's). */
  digest(state: KvStore): string {
    const s = state.snapshot();
    const data = [...s.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify({ ...s, data });
  }

  livenessCommand(): Uint8Array {
    return encodeKvCommand({ op: 'put', key: 'liveness', value: 'ok' });
  }

  check(): WorkloadVerdict {
    const v = checkLinearizable(this.history, kvModel);
    if (v.linearizable === true) {
      return {
        ok: true,
        detail: `${this.history.length} operations linearizable (${v.partitions} keys)`,
      };
    }
    if (v.linearizable === 'unknown') {
      return { ok: 'unknown', detail: `the checker gave up after ${v.steps} steps` };
    }
    return { ok: false, detail: v.explanation };
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.#counts, recorded: this.history.length };
  }

  /** @internal */
  get settings() {
    return {
      keys: this.#keys,
      thinkMs: this.#thinkMs,
      attemptMs: this.#attemptMs,
      operationMs: this.#operationMs,
      counts: this.#counts,
    };
  }
}

class KvClient {
  readonly #w: KvWorkload;
  readonly #ctx: WorkloadContext<KvStore>;
  readonly #process: number;
  readonly #random: SimRandom;
  readonly #actor: Actor;
  #target: number;
  #session: number | null = null;
  #seq = 0;
  #written = 0;
  /** The last value this client saw for each key: what its compare-and-sets expect. */
  readonly #seen = new Map<string, string | null>();

  constructor(w: KvWorkload, ctx: WorkloadContext<KvStore>, process: number, random: SimRandom) {
    this.#w = w;
    this.#ctx = ctx;
    this.#process = process;
    this.#random = random;
    this.#actor = new Actor(`client${process}`);
    this.#target = random.int(ctx.cluster.size);
  }

  async run(): Promise<void> {
    const s = this.#w.settings;
    while (!this.#ctx.stopping()) {
      await this.#sleep(this.#random.int(s.thinkMs + 1));
      if (this.#ctx.stopping()) break;
      if (this.#session === null) {
        await this.#register();
        continue;
      }
      await this.#operation(this.#nextInput());
    }
  }

  #nextInput(): KvInput {
    const r = this.#random;
    const key = r.pick(this.#w.settings.keys);
    const value = `${this.#process}.${++this.#written}`;
    const dice = r.int(100);
    if (dice < 40) return { key, op: 'get' };
    if (dice < 70) return { key, op: 'put', value };
    if (dice < 75) return { key, op: 'del' };
    const expected = r.chance(0.8)
      ? (this.#seen.get(key) ?? null)
      : `${r.int(this.#process + 1)}.${r.int(this.#written)}`;
    return { key, op: 'cas', expected, value: r.chance(0.1) ? null : value };
  }

  async #register(): Promise<void> {
    const s = this.#w.settings;
    const command = encodeKvCommand({ op: 'register' });
    const result = await this.#attempts((node) =>
      node.propose(command, { timeoutMs: s.attemptMs }),
    );
    if (
      result.ok &&
      typeof result.value === 'object' &&
      result.value !== null &&
      'client' in result.value
    ) {
      this.#session = (result.value as { client: number }).client;
      this.#seq = 0;
      s.counts.sessions++;
    }
  }

  async #operation(input: KvInput): Promise<void> {
    const s = this.#w.settings;
    s.counts.operations++;
    const call = this.#ctx.scheduler.now;
    if (input.op === 'get') {
      // Reads are spread, as behind a load balancer: any node must answer them correctly.
      if (this.#random.chance(0.3)) this.#target = this.#random.int(this.#ctx.cluster.size);
      const r = await this.#attempts((node) =>
        node.read((sm) => sm.inner.get(input.key)?.value ?? null, { timeoutMs: s.attemptMs }),
      );
      if (!r.ok) {
        // A read that never answered constrains nothing.
        s.counts.failedReads++;
        return;
      }
      this.#seen.set(input.key, r.value);
      this.#record(input, call, r.value);
      return;
    }
    const session: SessionRef = {
      client: this.#session as number,
      seq: ++this.#seq,
      ack: this.#seq,
    };
    const command: KvCommand =
      input.op === 'put'
        ? { op: 'put', key: input.key, value: input.value, session }
        : input.op === 'del'
          ? { op: 'del', key: input.key, session }
          : {
              op: 'cas',
              key: input.key,
              expected: input.expected,
              value: input.value,
              session,
            };
    const bytes = encodeKvCommand(command);
    const r = await this.#attempts((node) => node.propose(bytes, { timeoutMs: s.attemptMs }));
    const result = r.ok ? (r.value as KvResult) : null;
    if (result === null || 'rejected' in result) {
      // It may have been applied, or may still be: its outcome stays unknown.
      s.counts.unknown++;
      this.#record(input, call, undefined);
      if (result !== null && result.rejected === 'session-expired') this.#session = null;
      return;
    }
    const fields = result as Readonly<Record<string, unknown>>;
    let output: KvOutput = null;
    if (input.op === 'put') this.#seen.set(input.key, input.value);
    else if (input.op === 'del' && typeof fields.deleted === 'boolean') {
      output = fields.deleted;
      this.#seen.set(input.key, null);
    } else if (input.op === 'cas' && typeof fields.succeeded === 'boolean') {
      output = fields.succeeded;
      if (output) this.#seen.set(input.key, input.value);
    }
    this.#record(input, call, output);
  }

  #record(input: KvInput, call: number, output: KvOutput | undefined): void {
    this.#w.history.push({
      process: this.#process,
      input,
      call,
      ...(output === undefined ? {} : { output, ret: this.#ctx.scheduler.now }),
    });
  }

  /** Tries `fn` on one node after another until it answers or the operation's time is up. */
  async #attempts<T>(fn: (node: SimNode<KvStore>) => Promise<T>): Promise<Attempt<T>> {
    const s = this.#w.settings;
    const cluster = this.#ctx.cluster;
    const deadline = this.#ctx.scheduler.now + s.operationMs;
    for (;;) {
      const left = deadline - this.#ctx.scheduler.now;
      if (left <= 0) return { ok: false };
      s.counts.attempts++;
      const reply = await cluster.request(
        this.#actor,
        this.#target,
        fn,
        Math.min(s.attemptMs + 50, left),
      );
      if (reply.ok) return { ok: true, value: reply.value };
      const leader = reply.error instanceof NotLeaderError ? reply.error.leader : null;
      this.#target = nextTarget(cluster, this.#random, this.#target, leader);
      await this.#sleep(5 + this.#random.int(45));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#ctx.scheduler.after(ms, this.#actor, resolve);
    });
  }
}
