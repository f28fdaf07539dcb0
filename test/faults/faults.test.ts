/**
 * Membership under real faults (`npm run test:faults`, also in the suite): a rolling
 * replacement of every member of a three-node cluster by new, empty nodes while clients write
 * and a nemesis pauses members; the history must be linearizable and every acknowledged write
 * in every final member's log. (The kill-and-pause test that stood here is `raftkit verify
 * --nemesis kill,pause`, which `npm run test:faults` runs first, and which the suite runs with
 * every fault kind in test/verify.)
 *
 *   FAULT_SEED=1       the nemesis's and the clients' choices (timing still varies)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkLinearizable, kvModel } from '../../src/check/index.js';
import { RaftkitClient } from '../../src/kv/index.js';
import {
  checkDurable,
  KvLoad,
  NodeProcess,
  seeded,
  sleep,
  statusOf,
} from '../../src/verify/index.js';
import { freePorts } from '../support/ports.js';

const SEED = Number(process.env.FAULT_SEED ?? 1);

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
  timeout: 200_000,
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
    (i) =>
      new NodeProcess({
        index: i,
        raft: raft[i] as string,
        http: http[i] as string,
        peers: raft.slice(0, 3),
        dir,
        extra: timing,
      }),
  );
  const joiner = (i: number, index = i) =>
    new NodeProcess({
      index,
      raft: raft[i] as string,
      http: http[i] as string,
      peers: [],
      dir,
      extra: timing,
      join: urls,
    });
  const all: NodeProcess[] = [...original];
  const clients = Array.from(
    { length: 3 },
    () => new RaftkitClient({ endpoints: urls, timeoutMs: 3000, attemptTimeoutMs: 1500 }),
  );
  const admin = new RaftkitClient({ endpoints: urls, timeoutMs: 20_000 });
  const started = performance.now();
  const load = new KvLoad(clients, seeded(SEED + 7), {
    keys: ['a', 'b', 'c'],
    now: () => performance.now() - started,
  });
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
    const reborn = new NodeProcess({
      index: 6,
      raft: dead.raft,
      http: dead.http,
      peers: [],
      dir,
      extra: timing,
      join: urls,
    });
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
    assert.deepEqual(await load.finalReads(20_000), [], 'every final read answered');

    const final = await admin.members();
    assert.deepEqual(
      final.voters.map((v) => v.id).sort(),
      members.map((m) => m.raft).sort(),
      'the new nodes are the voters',
    );
    const verdict = checkLinearizable(load.history(), kvModel);
    const acked = load.acked();
    console.log(
      `rolling replacement: ${load.history().length} operations (${acked.length} acknowledged writes), ` +
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
    for (const m of members) {
      const report = await checkDurable(m.raft, join(dir, `node${m.index + 1}`), acked);
      assert.deepEqual(report.lost, [], m.raft);
      assert.equal(report.found + report.inSnapshot, acked.length);
    }
    passed = true;
  } finally {
    for (const c of [...clients, admin]) c.close();
    await Promise.all(all.map((n) => n.kill()));
    await Promise.all(all.map((n) => n.close()));
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept for inspection: ${dir} (node logs, history)`);
  }
});
