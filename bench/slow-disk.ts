/**
 * Overlapped writes on a slow disk: three `RaftNode`s in this process, on an in-memory network
 * and in-memory disks whose fdatasync takes `--fsync-ms` (default 5, a spinning disk or a busy
 * cloud volume; this machine's takes 0.25 ms), the same closed-loop proposals with writes
 * overlapped (the default) and with each Ready waiting for the previous one's write
 * (`overlapWrites: false`), in alternating rounds. Prints the medians and ranges; no file.
 *
 *   npx tsx bench/slow-disk.ts [--fsync-ms 5] [--seconds 3] [--rounds 4] [--concurrency 1,16,64]
 */
import { seededRandom } from '../src/core/index.js';
import { RaftNode, type StateMachine } from '../src/node/index.js';
import { FileStorage, MemoryFileSystem } from '../src/storage/index.js';
import { MemoryNetwork } from '../src/transport/index.js';
import { flag } from './args.js';
import { closedLoop, median, spread } from './load.js';

const FSYNC_MS = Number(flag('--fsync-ms') ?? 5);
const SECONDS = Number(flag('--seconds') ?? 3);
const ROUNDS = Number(flag('--rounds') ?? 4);
const LEVELS = (flag('--concurrency') ?? '1,16,64').split(',').map(Number);

class Counter implements StateMachine {
  n = 0;
  apply(): unknown {
    return ++this.n;
  }
}

async function cluster(overlapWrites: boolean): Promise<RaftNode[]> {
  const network = new MemoryNetwork();
  const fs = new MemoryFileSystem({
    latency: (op) => new Promise((r) => setTimeout(r, op === 'sync' ? FSYNC_MS : 0)),
  });
  const ids = ['a', 'b', 'c'];
  return Promise.all(
    ids.map(async (id, i) =>
      RaftNode.start({
        id,
        members: ids,
        storage: await FileStorage.open(`/${id}`, { fs, logger: { warn: () => {} } }),
        transport: network.transport(id),
        stateMachine: new Counter(),
        random: seededRandom(i + 1),
        overlapWrites,
      }),
    ),
  );
}

const value = new Uint8Array(256);
const on = await cluster(true);
const off = await cluster(false);
const leaderOf = async (nodes: RaftNode[]) => {
  for (let i = 0; i < 500; i++) {
    const l = nodes.find((n) => n.isLeader);
    if (l !== undefined) return l;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no leader');
};
const leaders = { on: await leaderOf(on), off: await leaderOf(off) };
console.log(`fdatasync ${FSYNC_MS} ms; ${ROUNDS} rounds of ${SECONDS} s, alternating`);
for (const c of LEVELS) {
  const got = {
    on: [] as number[],
    off: [] as number[],
    pOn: [] as number[],
    pOff: [] as number[],
  };
  for (let i = 0; i < ROUNDS; i++) {
    const a = await closedLoop(c, SECONDS, () => leaders.on.propose(value));
    const b = await closedLoop(c, SECONDS, () => leaders.off.propose(value));
    got.on.push(a.perSecond);
    got.off.push(b.perSecond);
    got.pOn.push(a.p50Ms);
    got.pOff.push(b.p50Ms);
  }
  console.log(
    `concurrency ${c}: overlapped ${Math.round(median(got.on))}/s (${spread(got.on)}) p50 ${median(got.pOn).toFixed(2)} ms | one at a time ${Math.round(median(got.off))}/s (${spread(got.off)}) p50 ${median(got.pOff).toFixed(2)} ms | ${(median(got.on) / median(got.off)).toFixed(2)}x`,
  );
}
await Promise.all([...on, ...off].map((n) => n.stop()));
