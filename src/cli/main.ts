/**
 * @module
 * The `raftkit` command. Subcommands arrive with the layers they drive; each failure the user
 * can cause (a wrong flag, a path that is not a data directory, damaged data) ends in one
 * line on stderr and a non-zero exit, never a stack trace.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { RaftError } from '../core/index.js';
import { describeCommand } from '../node/index.js';
import { inspectDataDir } from '../storage/index.js';
import { replayObjects } from './replay-objects.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** Output streams, injectable so tests can run the program in process. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function logIndex(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a log index (an integer of at least 1).');
  }
  return n;
}

export function buildProgram(output: Output = processOutput): Command {
  const program = new Command('raftkit')
    .description('Raft consensus library and replicated key-value server for Node.js')
    .version(version, '-v, --version', 'print the version')
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError('(run raftkit --help for usage)')
    .exitOverride();
  program
    .command('inspect')
    .description("print a node's hard state and log (its data directory) as JSON")
    .argument('<dir>', 'the data directory of a node (it may be running: nothing is written)')
    .option('--from <index>', 'first log index to list', logIndex)
    .option('--to <index>', 'last log index to list', logIndex)
    .option('--objects', 'rebuild the replicated objects from the committed log and print them')
    .action(async (dir: string, options: { from?: number; to?: number; objects?: boolean }) => {
      const { objects, ...range } = options;
      const report = await inspectDataDir(dir, { ...range, describe: describeCommand });
      if (objects === true) report.stateMachine = await replayObjects(dir);
      output.out(`${JSON.stringify(report, null, 2)}\n`);
    })
    .exitOverride();
  return program;
}

export async function main(
  argv: readonly string[],
  output: Output = processOutput,
): Promise<number> {
  const program = buildProgram(output);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof RaftError) {
      output.err(`raftkit: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
