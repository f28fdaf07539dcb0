/**
 * @module
 * `raftkit inspect DIR`: a node's hard state, log and state machine, read from its data
 * directory (it may be running: nothing is written).
 */
import { Command, InvalidArgumentError } from 'commander';
import { describeCommand } from '../node/index.js';
import { inspectionReport, openInspection } from '../storage/index.js';
import { LazyArray, writeJson } from './json-stream.js';
import type { Output } from './main.js';
import { replayKv, replayObjects } from './replay.js';

function logIndex(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a log index (an integer of at least 1).');
  }
  return n;
}

export function inspectCommand(output: Output): Command {
  return new Command('inspect')
    .description("print a node's hard state, log and state machine (its data directory) as JSON")
    .argument('<dir>', 'the data directory of a node (it may be running: nothing is written)')
    .option('--from <index>', 'first log index to list', logIndex)
    .option('--to <index>', 'last log index to list', logIndex)
    .option('--no-entries', 'list no log entries')
    .option('--prefix <text>', "list only the key-value store's keys that start with this")
    .option('--objects', 'rebuild the replicated objects from the committed log and print them')
    .action((dir: string, options: InspectFlags) => inspect(dir, options, output));
}

interface InspectFlags {
  readonly from?: number;
  readonly to?: number;
  readonly entries: boolean;
  readonly prefix?: string;
  readonly objects?: boolean;
}

/**
 * `raftkit inspect`: the report is written as it is read (entries from disk, keys from the
 * rebuilt store), never held whole. A range of entries asked for without `--prefix` shows the
 * store as counts only: whoever asks for some entries does not want every key too.
 */
async function inspect(dir: string, flags: InspectFlags, output: Output): Promise<void> {
  const range = {
    ...(flags.from === undefined ? {} : { from: flags.from }),
    ...(flags.to === undefined ? {} : { to: flags.to }),
  };
  const inspection = await openInspection(dir, { ...range, describe: describeCommand });
  try {
    const entries = flags.entries ? new LazyArray(() => inspection.entries()) : [];
    const report = inspectionReport(inspection, entries);
    if (flags.objects === true) {
      report.stateMachine = await replayObjects(dir);
    } else {
      const summary = flags.prefix === undefined && (flags.from ?? flags.to) !== undefined;
      const kv = await replayKv(dir, {
        summary,
        ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      });
      if (kv.isKv) report.stateMachine = kv.report;
    }
    writeJson(report, output.out);
  } finally {
    await inspection.close();
  }
}
