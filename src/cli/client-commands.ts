/**
 * @module
 * `raftkit put | get | del | cas | status | member ... | leader transfer`: one request through
 * `RaftkitClient`, its answer printed as one JSON line. The endpoints default to `raftkit cluster`'s, so no flag is needed
 * against a default local cluster.
 */
import { Command } from 'commander';
import { type ClientFlags, using, withClient } from './client-flags.js';
import type { Output } from './main.js';
import { hostPort } from './parse.js';

/** Exit status of `cas` when the comparison failed (the request itself succeeded). */
export const CAS_FAILED_EXIT = 2;

/** Exit status of `get` when the key is absent. */
export const NOT_FOUND_EXIT = 3;

export function clientCommands(output: Output, setExit: (code: number) => void): Command[] {
  const print = (value: unknown) => output.out(`${JSON.stringify(value)}\n`);
  return [
    withClient(new Command('put'))
      .description('set KEY to VALUE; prints {"index"}')
      .argument('<key>')
      .argument('<value>')
      .action((key: string, value: string, flags: ClientFlags) =>
        using(flags, async (c) => print(await c.put(key, value))),
      ),
    withClient(new Command('get'))
      .description(`print {"key","value","index"} of KEY (exit ${NOT_FOUND_EXIT} if absent)`)
      .argument('<key>')
      .option('--stale', 'read the local copy of whichever node answers (may be behind)')
      .action((key: string, flags: ClientFlags & { stale?: boolean }) =>
        using(flags, async (c) => {
          const found = await c.get(key, { stale: flags.stale === true });
          if (found === null) {
            output.err(`raftkit: key not found: ${key}\n`);
            setExit(NOT_FOUND_EXIT);
          } else {
            print(found);
          }
        }),
      ),
    withClient(new Command('del'))
      .description('delete KEY; prints {"index","deleted"}')
      .argument('<key>')
      .action((key: string, flags: ClientFlags) =>
        using(flags, async (c) => print(await c.delete(key))),
      ),
    withClient(new Command('cas'))
      .description(
        `set KEY to VALUE if it holds EXPECTED; prints {"succeeded","index"} (exit ${CAS_FAILED_EXIT} if not)`,
      )
      .argument('<key>')
      .argument('[expected]', 'the value KEY must hold (omit with --absent)')
      .argument('[value]', 'the new value (omit with --delete)')
      .option('--absent', 'KEY must be absent (then the arguments are KEY VALUE)')
      .option('--delete', 'delete KEY instead of setting it (then the arguments are KEY EXPECTED)')
      .action(
        (
          key: string,
          first: string | undefined,
          second: string | undefined,
          flags: ClientFlags & { absent?: boolean; delete?: boolean },
          command: Command,
        ) => {
          const absent = flags.absent === true;
          const del = flags.delete === true;
          const given = [first, second].filter((a) => a !== undefined).length;
          const needed = 2 - (absent ? 1 : 0) - (del ? 1 : 0);
          if (given !== needed) {
            command.error(
              `error: cas needs ${needed === 2 ? 'KEY EXPECTED VALUE' : needed === 1 ? (absent ? 'KEY VALUE with --absent' : 'KEY EXPECTED with --delete') : 'only KEY with --absent --delete'}`,
              { exitCode: 1 },
            );
          }
          const expected = absent ? null : (first as string);
          const value = del ? null : ((absent ? first : second) as string);
          return using(flags, async (c) => {
            const result = await c.cas(key, expected, value);
            print(result);
            if (!result.succeeded) setExit(CAS_FAILED_EXIT);
          });
        },
      ),
    withClient(new Command('status'))
      .description("print the leader's status (or, with none, a node's)")
      .action((flags: ClientFlags) => using(flags, async (c) => print(await c.status()))),
    memberCommand(print),
    new Command('leader').description('leadership: raftkit leader transfer ID').addCommand(
      withClient(new Command('transfer'))
        .description(
          'hand leadership to voter ID (for a rolling restart); prints {"leader","term"}',
        )
        .argument('<id>')
        .action((id: string, flags: ClientFlags) =>
          using(flags, async (c) => print(await c.transferLeader(id))),
        ),
    ),
  ];
}

/** Adding a voter waits for it to catch up: a longer default than the other commands. */
const MEMBER_TIMEOUT_MS = 60_000;

function memberCommand(print: (value: unknown) => void): Command {
  const member = new Command('member').description(
    'the members: list, add, promote, remove (each prints the configuration as JSON)',
  );
  member.addCommand(
    withClient(new Command('list'))
      .description('print {"voters":[{"id","address"}],"learners":[...],"index"}')
      .action((flags: ClientFlags) => using(flags, async (c) => print(await c.members()))),
  );
  member.addCommand(
    withMemberTimeout(new Command('add'))
      .description('add ID, whose Raft transport listens at --address; a voter once caught up')
      .argument('<id>')
      .requiredOption('--address <host:port>', "the new member's Raft address", hostPort)
      .option('--learner', 'add it as a learner (it does not vote until promoted)')
      .action((id: string, flags: ClientFlags & { address: string; learner?: boolean }) =>
        using(flags, async (c) =>
          print(await c.addMember(id, flags.address, { learner: flags.learner === true })),
        ),
      ),
  );
  member.addCommand(
    withMemberTimeout(new Command('promote'))
      .description('make the learner ID a voter (once it has caught up)')
      .argument('<id>')
      .action((id: string, flags: ClientFlags) =>
        using(flags, async (c) => print(await c.promoteMember(id))),
      ),
  );
  member.addCommand(
    withMemberTimeout(new Command('remove'))
      .description('take ID (voter or learner) out of the cluster')
      .argument('<id>')
      .action((id: string, flags: ClientFlags) =>
        using(flags, async (c) => print(await c.removeMember(id))),
      ),
  );
  return member;
}

function withMemberTimeout(command: Command): Command {
  return withClient(command, MEMBER_TIMEOUT_MS);
}
