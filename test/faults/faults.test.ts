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
import { checkLinearizable, kvModel } from '../../src/check/index.js';
import { RaftkitClient } from '../../src/kv/index.js';
import { freePorts } from '../support/ports.js';
import { NodeProcess, statusOf } from './processes.js';
import { assertDurable, KvLoad, seeded, sleep } from './workload.js';

const SECONDS = Number(process.env.FAULT_SECONDS ?? 20);
const SEED = Number(process.env.FAULT_SEED ?? 1);
const CLIENTS = 5;

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
  // The nemesis has its own generator, so the clients' interleaving cannot change its plan.
  const chaosRandom = seeded(SEED + 1);
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
  const load = new KvLoad(clients, seeded(SEED));
  try {
    for (const n of nodes) n.start();
    await waitForLeader(nodes, 20_000);
    let running = true;

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

    load.start();
    const chaos = nemesis();
    await sleep(SECONDS * 1000);
    running = false;
    await Promise.all([load.stop(), chaos]);

    // Heal, then read every key from every client: those reads close the history.
    for (const n of nodes) {
      n.resume();
      n.start();
    }
    await waitForLeader(nodes, 20_000);
    await load.finalReads();

    const { history, unexpected, written } = load;
    const verdict = checkLinearizable(history, kvModel);
    const acked = load.acked();
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
      await assertDurable(`node${n.index + 1}`, join(dir, `node${n.index + 1}`), acked);
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

/**
 * Asks for a membership change until the configuration shows it (a retry after an unknown
 * outcome, or a change already in progress, is normal under faults).
 */
async function changed(
  client: RaftkitClient,
  change: () => Promise<unknown>,
  done: (voters: readonly string[]) => boolean,
  what: string,
  ms = 30_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  let last = '';
  while (performance.now() < deadline) {
    try {
      const list = await client.members({ timeoutMs: 2000 });
      if (done(list.voters.map((v) => v.id))) return;
      await change();
    } catch (e) {
      last = (e as Error).message;
      await sleep(200);
    }
  }
  throw new Error(`${what}: not done in ${ms} ms (last: ${last})`);
}

test('rolling replacement: every member replaced by a new, empty node, under load and faults', {
  timeout: (SECONDS + 180) * 1000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-rolling-'));
  // Three original members, three that replace them, one that replaces a dead one.
  const ports = await freePorts(12);
  const raft = ports.slice(0, 6).map((p) => `127.0.0.1:${p}`);
  const http = ports.slice(6, 12).map((p) => `127.0.0.1:${p}`);
  const timing = [
    ...['--heartbeat-ms', '50', '--election-ms', '300'],
    ...['--request-timeout-ms', '2000', '--log-level', process.env.ROLLING_LOG ?? 'warn'],
  ];
  const urls = http.map((h) => `http://${h}`);
  const original = [0, 1, 2].map(
    (i) => new NodeProcess(i, raft[i] as string, http[i] as string, raft.slice(0, 3), dir, timing),
  );
  const joiner = (i: number, index = i) =>
    new NodeProcess(index, raft[i] as string, http[i] as string, [], dir, timing, urls);
  const all: NodeProcess[] = [...original];
  const clients = Array.from(
    { length: 3 },
    () => new RaftkitClient({ endpoints: urls, timeoutMs: 3000, attemptTimeoutMs: 1500 }),
  );
  const admin = new RaftkitClient({ endpoints: urls, timeoutMs: 20_000 });
  const load = new KvLoad(clients, seeded(SEED + 7));
  const chaosRandom = seeded(SEED + 8);
  let pauses = 0;
  let passed = false;
  try {
    for (const n of original) n.start();
    await waitForLeader(original, 20_000);
    load.start();
    let running = true;
    let members = [...original];
    // The nemesis pauses a member now and then (never the node being added).
    const nemesis = (async () => {
      while (running) {
        await sleep(700 + chaosRandom() * 900);
        const victim = members[Math.floor(chaosRandom() * members.length)];
        if (!running || victim === undefined || !victim.running) continue;
        victim.pause();
        pauses++;
        await sleep(300 + chaosRandom() * 700);
        victim.resume();
      }
    })();
    const replace = async (old: NodeProcess, next: NodeProcess) => {
      all.push(next);
      next.start();
      const deadline = performance.now() + 40_000;
      while (!/joined as voter/.test(next.output)) {
        if (performance.now() > deadline) throw new Error(`${next.raft} did not join`);
        await sleep(100);
      }
      members = [...members.filter((m) => m !== old), next];
      await changed(
        admin,
        () => admin.removeMember(old.raft, { timeoutMs: 10_000 }),
        (voters) => !voters.includes(old.raft),
        `removing ${old.raft}`,
      );
    };
    // Each original member in turn: a new node joins, then the old one is removed (and,
    // removed, it stops by itself).
    for (const [i, old] of original.entries()) {
      await replace(old, joiner(3 + i));
      assert.ok(await old.exited(10_000), `node${old.index + 1} stops once removed`);
    }
    // A dead member: killed, its data directory deleted, removed; a new empty node at its
    // address takes its place.
    const dead = all[3] as NodeProcess;
    members = members.filter((m) => m !== dead);
    await dead.kill();
    rmSync(join(dir, `node${dead.index + 1}`), { recursive: true, force: true });
    await changed(
      admin,
      () => admin.removeMember(dead.raft, { timeoutMs: 10_000 }),
      (voters) => !voters.includes(dead.raft),
      `removing the dead ${dead.raft}`,
    );
    const reborn = new NodeProcess(6, dead.raft, dead.http, [], dir, timing, urls);
    all.push(reborn);
    reborn.start();
    const deadline = performance.now() + 40_000;
    while (!/joined as voter/.test(reborn.output)) {
      if (performance.now() > deadline)
        throw new Error('the replacement of the dead member did not join');
      await sleep(100);
    }
    members.push(reborn);
    await sleep(2000);
    running = false;
    await Promise.all([load.stop(), nemesis]);
    for (const m of members) m.resume();
    await waitForLeader(members, 20_000);
    await load.finalReads();

    const final = await admin.members();
    assert.deepEqual(
      final.voters.map((v) => v.id).sort(),
      members.map((m) => m.raft).sort(),
      'the new nodes are the voters',
    );
    const verdict = checkLinearizable(load.history, kvModel);
    const acked = load.acked();
    console.log(
      `rolling replacement: ${load.history.length} operations (${acked.length} acknowledged writes), ` +
        `${pauses} pauses, final voters ${final.voters.map((v) => v.id).join(' ')}; verdict ${String(verdict.linearizable)}`,
    );
    assert.deepEqual(load.unexpected, []);
    assert.equal(verdict.linearizable, true);
    assert.ok(load.written >= 20, `${load.written} acknowledged writes`);
    // Every acknowledged write is on every final member.
    const top = Math.max(...acked.map((o) => o.index as number));
    const until = performance.now() + 15_000;
    while (performance.now() < until) {
      const statuses = await Promise.all(members.map((n) => statusOf(n.url)));
      if (statuses.every((s) => s !== null && s.appliedIndex >= top)) break;
      await sleep(50);
    }
    for (const m of members) assert.equal(await m.stop(), 0, `${m.raft} stopped cleanly`);
    for (const m of members) await assertDurable(m.raft, join(dir, `node${m.index + 1}`), acked);
    passed = true;
  } finally {
    for (const c of [...clients, admin]) c.close();
    await Promise.all(all.map((n) => n.kill()));
    for (const n of all) n.close();
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept for inspection: ${dir} (node logs, history)`);
  }
});
