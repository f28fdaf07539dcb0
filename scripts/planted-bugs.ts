/**
 * `npm run sim:planted [-- --seeds N]`: plants each known bug in turn (test/sim/planted.ts)
 * and runs the simulator on seeds 1, 2, 3, ... (3 and 5 nodes in turn) until it fails, up to N
 * seeds (default 200). Prints, per bug, the first seed that caught it and how the run failed;
 * writes bench/results/planted.json (with `--bug NAME`, only that bug's row is replaced).
 * `--faults SPEC` (as `raftkit sim --faults`) searches under another fault profile, recorded
 * with the catch, for a bug the default profile reaches too rarely.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseProfile } from '../src/sim/index.js';
import { plantedBugs, plantedBuild } from '../test/sim/planted.js';

const arg = process.argv.indexOf('--seeds');
const maxSeeds = arg >= 0 ? Number(process.argv[arg + 1]) : 200;
const only = process.argv.indexOf('--bug');
const bugs = only >= 0 ? plantedBugs.filter((b) => b.name === process.argv[only + 1]) : plantedBugs;
const faultsArg = process.argv.indexOf('--faults');
const spec = faultsArg >= 0 ? (process.argv[faultsArg + 1] as string) : undefined;
const profile = spec === undefined ? {} : { profile: parseProfile(spec) };

const results: Record<string, unknown>[] = [];
for (const bug of bugs) {
  const { simulate } = await plantedBuild(bug);
  const started = Date.now();
  let caught: Record<string, unknown> | null = null;
  for (let seed = 1; seed <= maxSeeds && caught === null; seed++) {
    const nodes = seed % 2 === 1 ? 3 : 5;
    const r = await simulate({ seed, nodes, ...profile });
    if (!r.ok) {
      caught = {
        seed,
        nodes,
        seedsRun: seed,
        ...(spec === undefined ? {} : { profile: spec }),
        kind: r.failure?.kind,
        message: r.failure?.message.split('\n')[0],
      };
    }
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const row = { bug: bug.name, description: bug.description, caught, seconds };
  results.push(row);
  console.log(
    caught === null
      ? `${bug.name}: not caught in ${maxSeeds} seeds (${seconds} s)`
      : `${bug.name}: caught by seed ${caught.seed} (${caught.nodes} nodes), ${caught.seedsRun} seeds run, ${seconds} s: ${caught.kind}: ${caught.message}`,
  );
}
const file = 'bench/results/planted.json';
// A run of some bugs keeps the recorded rows of the others, in the order of plantedBugs.
const earlier = existsSync(file)
  ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[])
  : [];
const rows = plantedBugs
  .map((b) => results.find((r) => r.bug === b.name) ?? earlier.find((r) => r.bug === b.name))
  .filter((r) => r !== undefined);
mkdirSync('bench/results', { recursive: true });
writeFileSync(file, `${JSON.stringify(rows, null, 2)}\n`);
