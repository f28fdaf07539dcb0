/**
 * The simulator as a whole: one seed replays the same run event for event; a user's own state
 * machine and workload run in it; the seeds that ever found a bug are replayed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NotLeaderError } from '../../src/core/index.js';
import type { StateMachine } from '../../src/node/index.js';
import {
  Actor,
  nextTarget,
  simulate,
  type Workload,
  type WorkloadContext,
} from '../../src/sim/index.js';
import { runSeeds, type SeedCase } from './support.js';

test('the same seed replays the same run; another seed makes another', async () => {
  const a = await simulate({ seed: 42, nodes: 5, durationMs: 8000 });
  const b = await simulate({ seed: 42, nodes: 5, durationMs: 8000 });
  assert.deepEqual(a, b);
  assert.ok(a.ok, a.failure?.message);
  assert.equal(a.replay, 'npx raftkit sim --seed 42 --nodes 5 --duration-ms 8000');
  const c = await simulate({ seed: 43, nodes: 5, durationMs: 8000 });
  assert.notEqual(c.events, a.events);
});

test('a run keeps only the faults it is told to, and says how to replay that', async () => {
  const full = await simulate({ seed: 7, durationMs: 6000 });
  assert.ok(full.schedule.length >= 2);
  const some = await simulate({ seed: 7, durationMs: 6000, keep: [1] });
  assert.deepEqual(some.schedule, [full.schedule[1]]);
  assert.equal(some.replay, 'npx raftkit sim --seed 7 --duration-ms 6000 --keep 1');
  await assert.rejects(simulate({ seed: 7, keep: [999] }), /fault 999 is not in the schedule/);
});

/** A user's state machine: a counter. */
class Counter implements StateMachine {
  value = 0;
  apply(): number {
    return ++this.value;
  }
}

/** A user's workload: each client adds one at a time; every answer must be unique. */
class CountingWorkload implements Workload<Counter> {
  readonly answers: number[] = [];
  createStateMachine(): Counter {
    return new Counter();
  }
  async run(ctx: WorkloadContext<Counter>): Promise<void> {
    const actor = new Actor('counter-client');
    let target = 0;
    while (!ctx.stopping()) {
      const reply = await ctx.cluster.request(
        actor,
        target,
        (n) => n.propose(new Uint8Array([1])),
        1000,
      );
      if (reply.ok) this.answers.push(reply.value as number);
      else {
        const leader = reply.error instanceof NotLeaderError ? reply.error.leader : null;
        target = nextTarget(ctx.cluster, ctx.random, target, leader);
      }
      await new Promise<void>((r) => ctx.scheduler.after(10, actor, r));
    }
  }
  livenessCommand(): Uint8Array {
    return new Uint8Array([1]);
  }
  check() {
    const unique = new Set(this.answers).size === this.answers.length;
    return {
      ok: unique,
      detail: `${this.answers.length} increments, ${unique ? 'all distinct' : 'repeated'}`,
    };
  }
  stats() {
    return { recorded: this.answers.length };
  }
}

test("a user's own state machine and workload run under the same faults", async () => {
  const r = await simulate({ seed: 3, durationMs: 8000, workload: () => new CountingWorkload() });
  assert.ok(r.ok, r.failure?.message);
  assert.ok((r.workload.recorded ?? 0) > 20, `only ${r.workload.recorded} increments`);
  assert.match(r.verdict, /increments, all distinct/);
});

test('every seed that ever found a bug still passes', async () => {
  const regressions = JSON.parse(
    readFileSync(new URL('./regressions.json', import.meta.url), 'utf8'),
  ) as SeedCase[];
  assert.ok(regressions.length > 0);
  await runSeeds(regressions);
});
