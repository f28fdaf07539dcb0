/**
 * One member of the node benchmark, in its own process (started by bench/node.ts over IPC).
 * When asked, and only if it leads, it runs the load itself: `concurrency` workers setting
 * 256-byte values in a ReplicatedMap, each awaiting its write's commit and apply before the
 * next, for a bounded time and count. It reports writes and latencies.
 */
import { startNode } from '../src/node/index.js';
import { ObjectStore, ReplicatedMap } from '../src/replicated/index.js';

const [index, ports, dir] = [
  Number(process.argv[2]),
  (process.argv[3] ?? '').split(','),
  process.argv[4] ?? '.',
];
const addresses = ports.map((p) => `127.0.0.1:${p}`);
const address = addresses[index] as string;
const node = await startNode({
  address,
  peers: addresses,
  dataDir: `${dir}/member${index}`,
  stateMachine: new ObjectStore(),
});
const map = new ReplicatedMap<string>(node, 'bench');
const value = 'v'.repeat(256);

interface Run {
  readonly concurrency: number;
  readonly seconds: number;
}

async function run({ concurrency, seconds }: Run): Promise<object> {
  if (!node.isLeader) return { leader: false };
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && next < 5_000_000) {
      const key = `k${next++ % 100_000}`;
      const t0 = performance.now();
      try {
        await map.set(key, value);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    leader: true,
    writes: latencies.length,
    errors,
    seconds: elapsed,
    p50: at(0.5),
    p99: at(0.99),
  };
}

process.on('message', (m: { run?: Run; stop?: true }) => {
  if (m.stop) {
    node.stop().then(() => process.exit(0));
    return;
  }
  if (m.run !== undefined) run(m.run).then((r) => process.send?.(r));
});
process.send?.({ ready: address });
