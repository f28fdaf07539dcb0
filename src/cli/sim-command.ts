/**
 * @module
 * `raftkit sim`: runs the deterministic simulator. One seed, a range of seeds, or (with
 * `--minutes`) random seeds until the time is up, which is the soak. Every run prints one
 * line; a failure prints what broke and the one command that replays it, and `--shrink`
 * reduces its fault schedule first. Exits 1 when any run failed.
 */
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import {
  DEFAULT_DURATION_MS,
  describeFault,
  describeTuning,
  type FaultKind,
  type FaultProfile,
  faultKinds,
  parseProfile,
  type SimResult,
  type SimulationOptions,
  shrink,
  simulate,
} from '../sim/index.js';
import type { Output } from './main.js';
import { positiveInteger } from './parse.js';
import { SimPool } from './sim-workers.js';

interface SimFlags {
  seed?: number;
  seeds: number;
  nodes: number[];
  durationMs: number;
  faults?: FaultProfile;
  keep?: number[];
  minutes?: number;
  shrink?: boolean;
  verbose?: boolean;
  jobs?: number;
}

function seedValue(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 0xffff_ffff) {
    throw new InvalidArgumentError('expected an integer from 0 to 4294967295.');
  }
  return n;
}

function nodeCounts(value: string): number[] {
  return value.split(',').map((v) => {
    const n = positiveInteger(v.trim());
    if (n > 9) throw new InvalidArgumentError('expected cluster sizes from 1 to 9.');
    return n;
  });
}

function positions(value: string): number[] {
  if (value === 'none') return [];
  return value.split(',').map((v) => {
    if (!/^\d+$/.test(v.trim()))
      throw new InvalidArgumentError('expected positions like 0,3,7 or none.');
    return Number(v.trim());
  });
}

function profile(value: string): FaultProfile {
  try {
    return parseProfile(value);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
}

function minutes(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 7 * 24 * 60))
    throw new InvalidArgumentError('expected minutes (more than 0).');
  return n;
}

export function simCommand(output: Output, setExit: (code: number) => void): Command {
  return new Command('sim')
    .description('run the deterministic fault simulator (one seed, several, or a timed soak)')
    .option(
      '--seed <n>',
      'the seed of the (first) run; default 1, or random with --minutes',
      seedValue,
    )
    .option('--seeds <count>', 'how many consecutive seeds to run', positiveInteger, 1)
    .option('--nodes <n[,n]>', 'cluster size; a list alternates between seeds', nodeCounts, [3])
    .option(
      '--duration-ms <ms>',
      'virtual milliseconds of workload under faults',
      positiveInteger,
      DEFAULT_DURATION_MS,
    )
    .option(
      '--faults <spec>',
      `fault probabilities per second, e.g. crash=0.2,lossy=0 (kinds: ${faultKinds.join(', ')}), or none`,
      profile,
    )
    .option(
      '--keep <positions>',
      'run only these faults of the schedule (what --shrink prints)',
      positions,
    )
    .option('--minutes <m>', 'soak: random seeds until the time is up', minutes)
    .option(
      '--jobs <n>',
      'runs at once, each in a process of its own (default: 1, or every core with --minutes)',
      positiveInteger,
    )
    .option('--shrink', 'reduce a failing run to a small fault schedule')
    .option('--verbose', 'print every run’s fault schedule')
    .action((flags: SimFlags) => runSims(flags, output, setExit));
}

async function runSims(
  flags: SimFlags,
  output: Output,
  setExit: (code: number) => void,
): Promise<void> {
  const soak = flags.minutes !== undefined;
  const first = flags.seed ?? (soak ? randomInt(0, 2 ** 31) : 1);
  const stopAt = soak ? Date.now() + (flags.minutes as number) * 60_000 : Number.POSITIVE_INFINITY;
  const started = Date.now();
  const injected = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  const failures: SimResult[] = [];
  let runs = 0;
  const optionsOf = (i: number): SimulationOptions => ({
    seed: (first + i) >>> 0,
    nodes: flags.nodes[i % flags.nodes.length] as number,
    durationMs: flags.durationMs,
    ...(flags.faults === undefined ? {} : { profile: flags.faults }),
    ...(flags.keep === undefined ? {} : { keep: flags.keep }),
  });
  const report = async (options: SimulationOptions, result: SimResult, wallMs: number) => {
    runs++;
    for (const k of faultKinds) injected[k] += result.injected[k];
    output.out(`${summary(result, wallMs)}\n`);
    if (flags.verbose === true) {
      output.out(`    settings: ${describeTuning(result.tuning)}\n`);
      for (const f of result.schedule) output.out(`    ${describeFault(f)}\n`);
    }
    if (result.ok) return;
    failures.push(result);
    output.out(`${failureReport(result)}\n`);
    if (flags.shrink === true) {
      output.out('  shrinking the fault schedule...\n');
      const shrunk = await shrink(options, result);
      output.out(`  shrunk in ${shrunk.runs} runs to ${shrunk.result.schedule.length} faults:\n`);
      for (const f of shrunk.result.schedule) output.out(`    ${describeFault(f)}\n`);
      output.out(`${failureReport(shrunk.result)}\n`);
    }
  };
  const more = (i: number) => (soak ? Date.now() < stopAt : i < flags.seeds);
  const jobs = flags.jobs ?? (soak ? availableParallelism() : 1);
  if (jobs <= 1) {
    for (let i = 0; more(i); i++) {
      const options = optionsOf(i);
      const t0 = Date.now();
      const result = await simulate(options);
      await report(options, result, Date.now() - t0);
    }
  } else {
    // Each worker takes the next seed as it finishes one; results are reported as they come
    // (so not in seed order), one at a time.
    const pool = new SimPool(jobs);
    let reporting = Promise.resolve();
    try {
      let i = 0;
      const worker = async () => {
        while (more(i)) {
          const options = optionsOf(i++);
          const { result, wallMs } = await pool.run(options);
          reporting = reporting.then(() => report(options, result, wallMs));
          await reporting;
        }
      };
      await Promise.all(Array.from({ length: jobs }, worker));
    } finally {
      pool.close();
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const kinds = faultKinds.map((k) => `${k} ${injected[k]}`).join(', ');
  const perHour = Math.round((runs / seconds) * 3600);
  output.out(
    `${runs} runs, ${failures.length} failed, ${(runs / seconds).toFixed(2)} runs/s (${perHour} an hour, ${jobs} at once); faults injected: ${kinds}\n`,
  );
  if (failures.length > 0) {
    output.out('failures:\n');
    for (const f of failures) output.out(`  ${f.replay}\n`);
    setExit(1);
  }
}

function summary(r: SimResult, wallMs: number): string {
  const faults = faultKinds.reduce((n, k) => n + r.injected[k], 0);
  const ops = r.workload.recorded ?? 0;
  const status = r.ok ? 'ok' : `FAILED (${r.failure?.kind})`;
  const { snapshots, installs } = r.cluster;
  const snaps = snapshots + installs > 0 ? `${snapshots} snapshots, ${installs} installs, ` : '';
  const { memberChanges, memberRefusals } = r.cluster;
  const members =
    memberChanges + memberRefusals > 0
      ? `${memberChanges} member changes (${memberRefusals} refused or lost), `
      : '';
  const lease = r.cluster.leaseReads > 0 ? `${r.cluster.leaseReads} lease reads, ` : '';
  return `seed ${r.seed} (${r.nodes} nodes): ${status}  ${ops} ops, ${r.workload.unknown ?? 0} unknown, ${faults} faults, ${r.leadersElected} leaders, ${snaps}${members}${lease}${r.events} events, ${(wallMs / 1000).toFixed(1)} s`;
}

function failureReport(r: SimResult): string {
  const f = r.failure;
  if (f === null) return '';
  const lines = [
    `  settings: ${describeTuning(r.tuning)}`,
    `  ${f.kind} failure at ${(f.atMs / 1000).toFixed(3)} s: ${f.message.split('\n').join('\n    ')}`,
  ];
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
}
