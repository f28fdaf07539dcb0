/**
 * The storage under the real core. Three cores on file storages (memory disk), each Ready
 * carried out in the safe order: leader messages, then `await save()`, then the messages that
 * depend on it, then `advance()`. Power is cut for all three at once at a random moment,
 * while writes are in flight; they restart from what recovery finds. Every entry a leader
 * reported committed before the cut must still be there, on a majority, and be applied with
 * the same bytes after the restart; the logs must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  carryOutReady,
  type Entry,
  type Message,
  RawNode,
  seededRandom,
} from '../../src/core/index.js';
import { FileStorage, MemoryFileSystem } from '../../src/storage/index.js';

const ids = ['a', 'b', 'c'];

class Cluster {
  readonly fs: MemoryFileSystem;
  readonly nodes = new Map<string, { raw: RawNode; storage: FileStorage; busy: boolean }>();
  readonly queue: Message[] = [];
  /** Entries some node reported committed, by index. */
  readonly committed = new Map<number, Entry>();
  tornTails = 0;

  constructor(fs: MemoryFileSystem) {
    this.fs = fs;
  }

  async start(seed: number): Promise<void> {
    this.nodes.clear();
    this.queue.length = 0;
    for (const [i, id] of ids.entries()) {
      const storage = await FileStorage.open(`/${id}`, {
        fs: this.fs,
        maxSegmentBytes: 4096,
        logger: { warn: () => this.tornTails++ },
      });
      const raw = new RawNode({
        id,
        storage,
        membership: { voters: ids },
        random: seededRandom(seed * 10 + i),
      });
      this.nodes.set(id, { raw, storage, busy: false });
    }
  }

  /** One Ready of node `id`, in the safe order; resolves when advanced. */
  async handle(id: string): Promise<void> {
    const n = this.nodes.get(id);
    if (n === undefined || n.busy || !n.raw.hasReady()) return;
    n.busy = true;
    await carryOutReady(n.raw, {
      send: (messages) => this.queue.push(...messages),
      persist: (rd) =>
        n.storage.save({ entries: rd.entries, hardState: rd.hardState, sync: rd.mustSync }),
      apply: (rd) => {
        for (const e of rd.committedEntries) {
          const known = this.committed.get(e.index);
          if (known !== undefined)
            assert.deepEqual(e.data, known.data, `index ${e.index} applied twice differently`);
          this.committed.set(e.index, e);
        }
      },
    });
    n.busy = false;
  }

  /** Delivers messages and handles Readies for `turns` rounds (each a turn of the loop). */
  async run(turns: number): Promise<void> {
    for (let t = 0; t < turns; t++) {
      for (const m of this.queue.splice(0)) this.nodes.get(m.to)?.raw.step(m);
      await Promise.all(ids.map((id) => this.handle(id)));
    }
  }

  leader(): RawNode | undefined {
    return [...this.nodes.values()].find((n) => n.raw.status().role === 'leader')?.raw;
  }
}

test('committed entries survive a power cut of the whole cluster', async (t) => {
  let cuts = 0;
  let survived = 0;
  let tornTails = 0;
  for (let seed = 1; seed <= 25; seed++) {
    const fs = new MemoryFileSystem({ latency: () => new Promise((r) => setImmediate(r)) });
    const cluster = new Cluster(fs);
    await cluster.start(seed);
    cluster.nodes.get('a')?.raw.campaign('election');
    await cluster.run(30);
    const random = seededRandom(seed);
    for (let round = 0; round < 3; round++) {
      const leader = cluster.leader();
      assert.ok(leader !== undefined, `seed ${seed}: no leader`);
      const commands = Array.from({ length: 1 + random.int(20) }, (_, i) =>
        new TextEncoder().encode(`seed ${seed} round ${round} command ${i}`),
      );
      leader.propose(commands);
      await cluster.run(1 + random.int(12)); // the cut comes at a random moment
      fs.crash(random);
      cuts++;
      const before = new Map(cluster.committed);
      await cluster.start(seed + round);
      for (const [index, entry] of before) {
        const holders = [...cluster.nodes.values()].filter(
          (n) => n.storage.lastIndex() >= index && n.storage.term(index) === entry.term,
        );
        assert.ok(
          holders.length >= 2,
          `seed ${seed}: committed ${index} on ${holders.length} nodes`,
        );
        survived++;
      }
      cluster.nodes.get(ids[round % 3] as string)?.raw.campaign('election');
      await cluster.run(40);
    }
    // After the last restart everything committed is applied again, with the same bytes.
    const leader = cluster.leader();
    assert.ok(leader !== undefined);
    const logs = [...cluster.nodes.values()].map((n) =>
      n.storage.entries(1, n.storage.lastIndex() + 1, 1e9).map((e) => `${e.index}/${e.term}`),
    );
    assert.deepEqual(logs[1], logs[0]);
    assert.deepEqual(logs[2], logs[0]);
    for (const n of cluster.nodes.values()) await n.storage.close();
    tornTails += cluster.tornTails;
  }
  t.diagnostic(
    `${cuts} power cuts (${tornTails} torn tails cut), ${survived} committed entries checked after them`,
  );
  assert.ok(survived > 500, `only ${survived} committed entries checked`);
});
