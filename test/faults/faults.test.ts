/**
 * The key-value server under real faults (`npm run test:faults`): three `raftkit node`
 * processes on loopback, five clients doing random get, put and compare-and-set on a few keys,
 * while a nemesis SIGKILLs nodes and restarts them, SIGKILLs the leader in particular, and
 * pauses nodes with SIGSTOP/SIGCONT. Every operation is recorded with its invocation and
 * completion (or its unknown outcome); the history must be linearizable, and every
 * acknowledged write must be in every node's log at the index it was acknowledged with.
 *
 *   FAULT_SECONDS=20   how long the load and the faults run
 *   FAULT_SEED=1       the nemesis's and the clients' choices (timing still varies)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  checkLinearizable,
  type HistoryOperation,
  type KvInput,
  type KvOutput,
  kvModel,
} from '../../src/check/index.js';
import { decodeKvCommand } from '../../src/kv/commands.js';
import { RaftkitClient, SessionExpiredError, UnavailableError } from '../../src/kv/index.js';
import { decodeCommand, TimeoutError } from '../../src/node/index.js';
import { FileStorage } from '../../src/storage/index.js';
import { freePorts } from '../support/ports.js';
import { NodeProcess, statusOf } from './processes.js';

const SECONDS = Number(process.env.FAULT_SECONDS ?? 20);
const SEED = Number(process.env.FAULT_SEED ?? 1);
const KEYS = ['a', 'b', 'c'];
const CLIENTS = 5;

/** mulberry32: a small seeded generator. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Recorded extends HistoryOperation<KvInput, KvOutput> {
  /** The log index a write was acknowledged with. */
  readonly index?: number;
}

async function waitForLeader(nodes: readonly NodeProcess[], ms: number): Promise<string> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const statuses = await Promise.all(nodes.map((n) => statusOf(n.url)));
    const leaders = new Set(statuses.map((s) => s?.leader ?? null));
    const [leader] = leaders;
    if (leaders.size === 1 && leader != null) return leader;
    await sleep(50);
  }
  throw new Error(`no leader every node agrees on within ${ms} ms`);
}

test('linearizable and durable under SIGKILL, leader kills and SIGSTOP', {
  timeout: (SECONDS + 120) * 1000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-faults-'));
  const ports = await freePorts(6);
  const raft = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
  const nodes = [0, 1, 2].map(
    (i) =>
      new NodeProcess(i, raft[i] as string, `127.0.0.1:${ports[3 + i]}`, raft, dir, [
        ...['--heartbeat-ms', '50', '--election-ms', '300'],
        ...['--request-timeout-ms', '2000', '--log-level', 'warn'],
      ]),
  );
  const random = seeded(SEED);
  // The nemesis has its own generator, so the clients' interleaving cannot change its plan.
  const chaosRandom = seeded(SEED + 1);
  const history: Recorded[] = [];
  const unexpected: string[] = [];
  const faults = { kill: 0, 'kill-leader': 0, pause: 0 };
  let passed = false;
  const clients = Array.from(
    { length: CLIENTS },
    () =>
      new RaftkitClient({
        endpoints: nodes.map((n) => n.url),
        timeoutMs: 3000,
        attemptTimeoutMs: 1500,
      }),
  );
  try {
    for (const n of nodes) n.start();
    await waitForLeader(nodes, 20_000);

    let running = true;
    let written = 0;
    const run = async (client: RaftkitClient, process: number, input: KvInput) => {
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
        history.push({
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
        if (input.op !== 'get' && outcomeUnknown) history.push({ process, input, call });
        else if (!(e instanceof UnavailableError) && !(e instanceof TimeoutError)) {
          unexpected.push(`${input.op} ${input.key}: ${(e as Error).message}`);
        }
        return undefined;
      }
    };

    const worker = async (c: number) => {
      const client = clients[c] as RaftkitClient;
      const seen = new Map<string, string | null>();
      for (let n = 0; running && n < 100_000; n++) {
        const key = KEYS[Math.floor(random() * KEYS.length)] as string;
        const roll = random();
        const value = `c${c}-${n}`;
        if (roll < 0.4) {
          const v = await run(client, c, { key, op: 'get' });
          if (typeof v === 'string' || v === null) seen.set(key, v);
        } else if (roll < 0.75) {
          if ((await run(client, c, { key, op: 'put', value })) === null) written++;
        } else {
          const expected = seen.get(key) ?? null;
          if ((await run(client, c, { key, op: 'cas', expected, value })) === true) {
            written++;
            seen.set(key, value);
          }
        }
      }
    };

    // Faults in turn, so that every kind happens in every run: a random node killed, the
    // leader killed, a random node paused; which node and for how long are random.
    const plan = ['kill', 'kill-leader', 'pause', 'kill-leader'] as const;
    const nemesis = async () => {
      for (let turn = 0; running; turn++) {
        await sleep(800 + chaosRandom() * 1200);
        if (!running) break;
        const kind = plan[turn % plan.length] as (typeof plan)[number];
        let node = nodes[Math.floor(chaosRandom() * 3)] as NodeProcess;
        if (kind === 'kill-leader') {
          const statuses = await Promise.all(nodes.map((n) => statusOf(n.url)));
          const leader = nodes.find((n) => statuses[n.index]?.role === 'leader');
          if (leader === undefined) continue;
          node = leader;
        }
        faults[kind]++;
        if (kind === 'pause') {
          node.pause();
          await sleep(500 + chaosRandom() * 1500);
          node.resume();
        } else {
          await node.kill();
          await sleep(300 + chaosRandom() * 1200);
          node.start();
        }
      }
    };

    const load = [...clients.keys()].map(worker);
    const chaos = nemesis();
    await sleep(SECONDS * 1000);
    running = false;
    await Promise.all([...load, chaos]);

    // Heal, then read every key from every client: those reads close the history.
    for (const n of nodes) {
      n.resume();
      n.start();
    }
    await waitForLeader(nodes, 20_000);
    for (const [c, client] of clients.entries()) {
      for (const key of KEYS) {
        const v = await run(client, c, { key, op: 'get' });
        assert.notEqual(v, undefined, `the final read of ${key} by client ${c} failed`);
      }
    }

    const verdict = checkLinearizable(history, kvModel);
    const acked = history.filter((o) => o.index !== undefined);
    const unknown = history.filter((o) => o.ret === undefined).length;
    writeFileSync(join(dir, 'history.jsonl'), history.map((o) => JSON.stringify(o)).join('\n'));
    const faultCount = faults.kill + faults['kill-leader'] + faults.pause;
    console.log(
      `history: ${history.length} operations (${acked.length} acknowledged writes, ${unknown} of unknown outcome); ` +
        `faults: ${faultCount} (${faults.kill} kills, ${faults['kill-leader']} leader kills, ${faults.pause} pauses); ` +
        `verdict: ${verdict.linearizable === true ? 'linearizable' : verdict.linearizable === false ? 'NOT linearizable' : 'unknown'} ` +
        `(${verdict.partitions} keys, ${verdict.steps} search steps); seed ${SEED}; history in ${join(dir, 'history.jsonl')}`,
    );
    assert.deepEqual(unexpected, []);
    assert.equal(verdict.linearizable, true);
    // The run must have been a real test: faults of every kind, and writes that got through.
    assert.ok(faultCount >= Math.floor(SECONDS / 3), `${faultCount} faults`);
    for (const [kind, count] of Object.entries(faults)) assert.ok(count >= 1, `no ${kind}`);
    assert.ok(written >= 5 * SECONDS, `${written} acknowledged writes`);

    // Durability: every acknowledged write is in every node's log, at its index.
    const top = Math.max(...acked.map((o) => o.index as number));
    const deadline = performance.now() + 15_000;
    while (performance.now() < deadline) {
      const statuses = await Promise.all(nodes.map((n) => statusOf(n.url)));
      if (statuses.every((s) => s !== null && s.appliedIndex >= top)) break;
      await sleep(50);
    }
    for (const n of nodes) assert.equal(await n.stop(), 0, `node${n.index + 1} stopped cleanly`);
    for (const n of nodes) {
      const storage = await FileStorage.open(join(dir, `node${n.index + 1}`), { readOnly: true });
      try {
        assert.ok(storage.hardState().commit >= top, `node${n.index + 1} committed ${top}`);
        for (const o of acked) {
          const [entry] = storage.entries(o.index as number, (o.index as number) + 1, Infinity);
          const envelope = decodeCommand(entry?.data ?? new Uint8Array());
          assert.ok(typeof envelope !== 'string', `entry ${o.index} is a command`);
          const command = decodeKvCommand(envelope.payload, o.index as number);
          const input = o.input as Extract<KvInput, { value: unknown }>;
          assert.deepEqual(
            [
              command.op === 'register' ? null : command.key,
              'value' in command ? command.value : null,
            ],
            [input.key, input.value],
            `node${n.index + 1}, entry ${o.index}`,
          );
        }
      } finally {
        await storage.close();
      }
    }
    passed = true;
  } finally {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.kill()));
    for (const n of nodes) n.close();
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept for inspection: ${dir} (node logs, history.jsonl)`);
  }
});
