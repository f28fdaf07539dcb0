/**
 * @module
 * The `raftkit` command. For now it knows its version and its help; the node, cluster,
 * client and inspect commands arrive with the layers they drive.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

export function buildProgram(): Command {
  return new Command('raftkit')
    .description('Raft consensus library and replicated key-value server for Node.js')
    .version(version, '-v, --version', 'print the version')
    .showHelpAfterError('(run raftkit --help for usage)')
    .exitOverride();
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
