/**
 * @module
 * The `raftkit` command. Subcommands arrive with the layers they drive; each failure the user
 * can cause (a wrong flag, a path that is not a data directory, damaged data) ends in one
 * line on stderr and a non-zero exit, never a stack trace.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';

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

/**
 * The commands that only talk to a running cluster. `raftkit get` and the like load only
 * these (and the HTTP client), not the node, the storage or the simulator: a command line that
 * answers in about a tenth of a second.
 */
const CLIENT_COMMANDS = new Set(['put', 'get', 'del', 'cas', 'status', 'leader', 'member']);

/** Every command, each module loaded only when the program needs it. */
async function allCommands(output: Output, setExit: (code: number) => void): Promise<Command[]> {
  const [inspect, node, cluster, client, sim, recover, verify, security, snapshot] =
    await Promise.all([
      import('./inspect-command.js'),
      import('./node-command.js'),
      import('./cluster-command.js'),
      import('./client-commands.js'),
      import('./sim-command.js'),
      import('./recover-command.js'),
      import('./verify-command.js'),
      import('./security-commands.js'),
      import('./snapshot-command.js'),
    ]);
  return [
    inspect.inspectCommand(output),
    node.nodeCommand(output),
    cluster.clusterCommand(output),
    ...client.clientCommands(output, setExit),
    sim.simCommand(output, setExit),
    recover.recoverCommand(output),
    verify.verifyCommand(output, setExit),
    security.certsCommand(output),
    security.authCommand(output),
    snapshot.snapshotCommand(output),
  ];
}

function buildProgram(output: Output, commands: readonly Command[]): Command {
  const program = new Command('raftkit')
    .description('Raft consensus library and replicated key-value server for Node.js')
    .version(version, '-v, --version', 'print the version')
    .configureOutput(outputFor(output, 'raftkit'))
    .exitOverride();
  for (const command of commands) program.addCommand(command);
  // Every command, nested ones too (`raftkit member add`, `raftkit snapshot save`), reports
  // its usage errors in one line that names it.
  const configure = (parent: Command, prefix: string) => {
    for (const command of parent.commands) {
      const name = `${prefix} ${command.name()}`;
      command.copyInheritedSettings(parent);
      command.configureOutput(outputFor(output, name));
      configure(command, name);
    }
  };
  configure(program, 'raftkit');
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
  const setExit = (code: number) => {
    exit = code;
  };
  if (argv.length === 0) {
    output.err('raftkit: no command given (see raftkit --help)\n');
    return 1;
  }
  const commands = CLIENT_COMMANDS.has(argv[0] as string)
    ? (await import('./client-commands.js')).clientCommands(output, setExit)
    : await allCommands(output, setExit);
  const program = buildProgram(output, commands);
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
