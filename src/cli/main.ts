/**
 * @module
 * The `raftkit` command. Subcommands arrive with the layers they drive; each failure the user
 * can cause (a wrong flag, a path that is not a data directory, damaged data) ends in one
 * line on stderr and a non-zero exit, never a stack trace.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { describeCommand } from '../node/index.js';
import { inspectionReport, openInspection } from '../storage/index.js';
import { clientCommands } from './client-commands.js';
import { clusterCommand } from './cluster-command.js';
import { LazyArray, writeJson } from './json-stream.js';
import { nodeCommand } from './node-command.js';
import { recoverCommand } from './recover-command.js';
import { replayKv, replayObjects } from './replay.js';
import { simCommand } from './sim-command.js';

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

export function buildProgram(
  output: Output = processOutput,
  setExit: (code: number) => void = () => {},
): Command {
  const program = new Command('raftkit')
    .description('Raft consensus library and replicated key-value server for Node.js')
    .version(version, '-v, --version', 'print the version')
    .configureOutput(outputFor(output, 'raftkit'))
    .exitOverride();
  program
    .command('inspect')
    .description("print a node's hard state, log and state machine (its data directory) as JSON")
    .argument('<dir>', 'the data directory of a node (it may be running: nothing is written)')
    .option('--from <index>', 'first log index to list', logIndex)
    .option('--to <index>', 'last log index to list', logIndex)
    .option('--no-entries', 'list no log entries')
    .option('--prefix <text>', "list only the key-value store's keys that start with this")
    .option('--objects', 'rebuild the replicated objects from the committed log and print them')
    .action((dir: string, options: InspectFlags) => inspect(dir, options, output));
  for (const command of [
    nodeCommand(output),
    clusterCommand(output),
    ...clientCommands(output, setExit),
    simCommand(output, setExit),
    recoverCommand(output),
  ]) {
    program.addCommand(command);
  }
  for (const command of program.commands) {
    command.copyInheritedSettings(program);
    command.configureOutput(outputFor(output, `raftkit ${command.name()}`));
  }
  return program;
}

/**
 * Commander's output, with each usage error as one line that points to the command's help
 * (rather than the whole help, 12 to 21 lines of it).
 */
function outputFor(output: Output, name: string) {
  return {
    writeOut: output.out,
    writeErr: output.err,
    outputError: (text: string, write: (s: string) => void) => {
      const message = text
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ')
        .trim();
      write(`${name}: ${message} (see ${name} --help)\n`);
    },
  };
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

/** `text` on one line, at most 500 characters: an error line, never a dump. */
function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

export async function main(
  argv: readonly string[],
  output: Output = processOutput,
): Promise<number> {
  let exit = 0;
  const program = buildProgram(output, (code) => {
    exit = code;
  });
  if (argv.length === 0) {
    output.err('raftkit: no command given (see raftkit --help)\n');
    return 1;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    // Whatever the user can cause (a busy port, a locked or damaged directory, an unreachable
    // cluster) is one line; RAFTKIT_DEBUG=1 shows the stack.
    if (process.env.RAFTKIT_DEBUG === '1' || !(err instanceof Error)) throw err;
    output.err(`raftkit: ${oneLine(err.message)}\n`);
    return 1;
  }
}
