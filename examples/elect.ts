/**
 * Three Raft cores in one process elect a leader and replicate a value, driven by real time:
 * a tick every 30 ms, messages delivered on the next turn of the event loop. Prints who won.
 *
 *   npx tsx examples/elect.ts [--seed N]
 */
import {
  carryOutReady,
  type Entry,
  MemoryStorage,
  type Message,
  type NodeId,
  RawNode,
  seededRandom,
} from '../src/core/index.js';

const TICK_MS = 30;
const DEADLINE_MS = 10_000;

const seedFlag = process.argv.indexOf('--seed');
const seed =
  seedFlag >= 0 ? Number(process.argv[seedFlag + 1]) : Math.floor(Math.random() * 2 ** 31);
const ids: NodeId[] = ['127.0.0.1:8000', '127.0.0.1:8001', '127.0.0.1:8002'];
const started = performance.now();
const elapsed = (): string => `${Math.round(performance.now() - started)} ms`;

interface Member {
  raw: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
}

const members = new Map<NodeId, Member>();
ids.forEach((id, i) => {
  const storage = new MemoryStorage();
  const raw = new RawNode({
    id,
    storage,
    membership: { voters: ids },
    random: seededRandom(seed + i),
  });
  members.set(id, { raw, storage, applied: [] });
});

function deliver(messages: readonly Message[]): void {
  for (const m of messages) {
    setImmediate(() => {
      const target = members.get(m.to);
      target?.raw.step(m);
      if (target !== undefined) drain(target);
    });
  }
}

/** Carries out every Ready in the documented order (memory storage: nothing to wait for). */
function drain(member: Member): void {
  while (member.raw.hasReady()) {
    carryOutReady(member.raw, {
      observe: (soft) => {
        if (soft.role !== 'leader') return;
        console.log(`${member.raw.id} won the election for term ${soft.term} after ${elapsed()}`);
      },
      send: deliver,
      persist: (rd) => {
        member.storage.append(rd.entries);
        if (rd.hardState !== null) member.storage.setHardState(rd.hardState);
      },
      apply: (rd) => {
        member.applied.push(...rd.committedEntries.filter((e) => e.kind === 'command'));
      },
    });
  }
}

console.log(`three nodes ${ids.join(', ')}; election seed ${seed}`);
let proposed = false;
const timer = setInterval(() => {
  for (const m of members.values()) {
    m.raw.tick();
    drain(m);
  }
  const leader = [...members.values()].find((m) => m.raw.status().role === 'leader');
  if (leader !== undefined && !proposed) {
    proposed = true;
    leader.raw.propose([new TextEncoder().encode('VARIABLE=42')]);
    drain(leader);
  }
  const everywhere = [...members.values()].every((m) => m.applied.length > 0);
  if (everywhere) {
    for (const [id, m] of members) {
      const value = new TextDecoder().decode((m.applied[0] as Entry).data);
      console.log(`${id}: ${m.raw.status().role}, applied ${value}`);
    }
    console.log(
      `ready: leader ${leader?.raw.id}, value replicated to all three after ${elapsed()}`,
    );
    clearInterval(timer);
  } else if (performance.now() - started > DEADLINE_MS) {
    console.error(`no leader and replicated value within ${DEADLINE_MS} ms (seed ${seed})`);
    clearInterval(timer);
    process.exitCode = 1;
  }
}, TICK_MS);
