/**
 * The Raft core alone: three cores wired in memory, no I/O, the leader proposing batches of
 * 256-byte commands while earlier batches are still in flight (pipelined). Prints committed
 * entries per second and CPU microseconds per committed entry, per batch size, and writes the
 * table to bench/results/core.json.
 *
 *   npm run bench:core [-- --seconds 2]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import {
  carryOutReady,
  type Entry,
  MemoryStorage,
  type Message,
  type NodeId,
  RawNode,
  seededRandom,
} from '../src/core/index.js';

const COMMAND_BYTES = 256;
const BATCH_SIZES = [1, 16, 64, 256, 1024];
const COMPACT_EVERY = 65_536;
const secondsFlag = process.argv.indexOf('--seconds');
const SECONDS = secondsFlag >= 0 ? Number(process.argv[secondsFlag + 1]) : 2;
const MAX_ROUNDS = 50_000_000; // bounds the loop even if the clock misbehaves
const IDS = ['a', 'b', 'c'];

interface Member {
  raw: RawNode;
  storage: MemoryStorage;
  applied: number;
}

/** One `propose()` with the whole batch, or one `propose()` per command (many clients). */
type Mode = 'one call' | 'per command';

interface Row {
  mode: Mode;
  batch: number;
  committed: number;
  seconds: number;
  entriesPerSecond: number;
  cpuMicrosPerEntry: number;
  messages: number;
  entriesPerAppend: number;
}

function cluster(): Map<NodeId, Member> {
  const members = new Map<NodeId, Member>();
  for (const [i, id] of IDS.entries()) {
    const storage = new MemoryStorage();
    // Large windows and messages so that the protocol, not a limit, sets the pace.
    const raw = new RawNode({
      id,
      storage,
      membership: { voters: IDS },
      random: seededRandom(i + 1),
      maxAppendBytes: 4 * 1024 * 1024,
      maxInflightMessages: 1024,
      maxInflightBytes: 256 * 1024 * 1024,
    });
    members.set(id, { raw, storage, applied: 0 });
  }
  return members;
}

/** Each node carries out one Ready; returns the messages they sent. */
function ioRound(members: Map<NodeId, Member>, out: Message[]): void {
  for (const m of members.values()) {
    if (!m.raw.hasReady()) continue;
    let last: Entry | undefined;
    carryOutReady(m.raw, {
      send: (messages) => {
        for (const msg of messages) out.push(msg);
      },
      persist: (rd) => {
        m.storage.append(rd.entries);
        if (rd.hardState !== null) m.storage.setHardState(rd.hardState);
      },
      apply: (rd) => {
        last = rd.committedEntries[rd.committedEntries.length - 1];
      },
    });
    if (last !== undefined) {
      m.applied = last.index;
      if (m.applied - m.storage.firstIndex() > COMPACT_EVERY) {
        // A snapshot of nothing (the benchmark keeps no state) at what was applied, then the
        // log behind it, keeping 1,024 entries for followers slightly behind.
        const term = m.storage.term(m.applied) as number;
        m.storage.createSnapshot({
          index: m.applied,
          term,
          membership: { voters: IDS, learners: [] },
        });
        m.storage.compact(m.applied - 1024);
      }
    }
  }
}

function run(mode: Mode, batch: number): Row {
  const members = cluster();
  const a = members.get('a') as Member;
  a.raw.campaign();
  let inFlight: Message[] = [];
  const deliver = (): void => {
    const now = inFlight;
    inFlight = [];
    for (const m of now) (members.get(m.to) as Member).raw.step(m);
  };
  for (let i = 0; i < 20 && a.raw.status().role !== 'leader'; i++) {
    ioRound(members, inFlight);
    deliver();
  }
  const command = new Uint8Array(COMMAND_BYTES).fill(7);
  const commands = Array.from({ length: batch }, () => command);
  const single = [command];
  let messages = 0;
  let appendEntries = 0;
  let appends = 0;
  const startApplied = a.applied;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Keep the pipeline full: propose while a bounded number of entries are uncommitted.
    if (a.raw.status().lastIndex - a.applied < 64 * batch + 4096) {
      if (mode === 'one call') a.raw.propose(commands);
      else for (let i = 0; i < batch; i++) a.raw.propose(single);
    }
    ioRound(members, inFlight);
    messages += inFlight.length;
    for (const m of inFlight) {
      if (m.type === 'append' && m.entries.length > 0) {
        appends++;
        appendEntries += m.entries.length;
      }
    }
    deliver();
    if ((round & 63) === 0 && performance.now() > deadline) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const committed = a.applied - startApplied;
  return {
    mode,
    batch,
    committed,
    seconds: round2(seconds),
    entriesPerSecond: Math.round(committed / seconds),
    cpuMicrosPerEntry: round2((cpu.user + cpu.system) / committed),
    messages,
    entriesPerAppend: round2(appendEntries / Math.max(1, appends)),
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

console.log(
  `raftkit core: 3 cores in one process, ${COMMAND_BYTES}-byte commands, ${SECONDS} s per batch size`,
);
console.log(`${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}\n`);
console.log('proposals        batch   committed/s   CPU us/entry   entries/append');
const rows: Row[] = [];
for (const mode of ['one call', 'per command'] as const) {
  for (const batch of BATCH_SIZES) {
    const row = run(mode, batch);
    rows.push(row);
    console.log(
      `${mode.padEnd(12)} ${String(batch).padStart(8)}   ${String(row.entriesPerSecond).padStart(11)}   ${row.cpuMicrosPerEntry.toFixed(2).padStart(12)}   ${row.entriesPerAppend.toFixed(1).padStart(14)}`,
    );
  }
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL('./results/core.json', import.meta.url);
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, commandBytes: COMMAND_BYTES, rows }, null, 2)}\n`,
);
console.log(`\nwritten to ${file.pathname}`);
