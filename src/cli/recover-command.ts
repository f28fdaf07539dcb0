/**
 * @module
 * `raftkit recover DIR --accept-data-loss`: the way back when a majority of the members is
 * lost for good. It appends to the surviving node's log a configuration in which that node is
 * the only voter; started again, it elects itself at once and can be grown with `raftkit
 * member add`. Unsafe by nature (etcd's `--force-new-cluster`, hashicorp/raft's `peers.json`):
 * writes the lost members had committed and this node had not received are gone, and no other
 * old member may ever be started against it. So it refuses without the flag, and says so.
 */
import { Command } from 'commander';
import { encodeConfig, membership } from '../core/index.js';
import { FileStorage } from '../storage/index.js';
import type { Output } from './main.js';
import { hostPort } from './parse.js';

interface RecoverFlags {
  acceptDataLoss?: boolean;
  id?: string;
  address?: string;
}

const WARNING =
  'this makes the node the only member of a new cluster: writes that the lost members ' +
  'committed and this node did not receive are lost for good, and no other old member may ' +
  'be started again (remove their data directories first)';

export function recoverCommand(output: Output): Command {
  return new Command('recover')
    .description(
      'UNSAFE: make a surviving node the only voter, when a majority is lost for good (may lose committed writes)',
    )
    .argument('<dir>', "the surviving node's data directory (the node must be stopped)")
    .option('--accept-data-loss', 'do it, knowing that committed writes may be lost')
    .option('--id <id>', "the node's id (default: the one its directory records)")
    .option('--address <host:port>', "the node's raft address (default: its id)", hostPort)
    .action((dir: string, flags: RecoverFlags) => recover(dir, flags, output));
}

async function recover(dir: string, flags: RecoverFlags, output: Output): Promise<void> {
  if (flags.acceptDataLoss !== true) {
    throw new Error(`refused: ${WARNING}. To go ahead, add --accept-data-loss`);
  }
  // A directory that is not a node's is refused before anything is written to it.
  await (await FileStorage.open(dir, { readOnly: true })).close();
  const storage = await FileStorage.open(dir);
  try {
    const id = flags.id ?? storage.nodeId();
    if (id === null) throw new Error(`${dir} does not record its node's id: give --id`);
    const address = flags.address ?? id;
    const config = membership({ voters: [id], addresses: { [id]: address } });
    const last = storage.lastIndex();
    const term = Math.max(storage.hardState().term, storage.term(last) ?? 0, 1);
    const index = last + 1;
    await storage.save({
      entries: [{ index, term, kind: 'config', data: encodeConfig(config) }],
      hardState: null,
      sync: true,
    });
    output.err(`raftkit recover: WARNING: ${WARNING}\n`);
    output.out(
      `${JSON.stringify({ dir, id, address, index, term, voters: [id] })}\n` +
        `start it alone: raftkit node --listen ${address} --peers ${address} --data ${dir} --id ${id}\n`,
    );
  } finally {
    await storage.close();
  }
}
